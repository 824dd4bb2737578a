"""Layer 4, tools and analysis on top of runs: stats, sweep, report, classifier training, the
tokenizer, mixing and the evaluators. Only the CLI (and the ablation package) import from here."""
