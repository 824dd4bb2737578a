"""curate: LLM pretraining-data curation on datatrove, with a per-document decision table."""

__version__ = "0.1.0"
