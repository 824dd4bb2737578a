"""curate's stages: one filter, extractor or transform per file, each a datatrove PipelineStep."""
