"""Realistic ETA engine: calibrated, padded finish-time promises learned from history."""

import os

# LightGBM's OpenMP threads spin while they wait; on a shared 2-core machine that turns a
# half-second training into minutes as soon as another process is busy. Passive waiting costs
# nothing when the machine is idle. Must be set before the OpenMP runtime starts.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
