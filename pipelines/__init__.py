"""curate's recipes (YAML) and multi-stage pipelines."""
