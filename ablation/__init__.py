"""Filter ablations: train small language models on each filtered variant (see README, roadmap)."""
