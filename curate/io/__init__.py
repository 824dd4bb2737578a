"""Layer 1: reading records and documents into the pipeline, and writing the decision table."""
