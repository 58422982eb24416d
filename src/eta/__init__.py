"""Realistic ETA engine: calibrated, padded finish-time promises learned from history."""

__version__ = "0.1.0"
