"""Decontamination: the benchmark n-gram index (`index.py`) and the stage that uses it (`filter.py`)."""
