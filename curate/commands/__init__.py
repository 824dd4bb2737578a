"""CLI commands that live outside `curate/cli.py`, one module per command group; `cli.py` registers them."""
