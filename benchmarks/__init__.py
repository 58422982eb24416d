"""Benchmarks of the ETA engine against peers on shared, time-ordered folds (see run.py)."""
