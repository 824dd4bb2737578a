"""Layer 1: what stages load from disk: fastText models, blocklists and word lists, benchmark sets."""
