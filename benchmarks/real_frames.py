"""Where the benchmarks find the real evaluation frames: ``../shared/data/real`` beside the checkout.

They are evaluation only and never shipped (their licences forbid it); scripts skip what is missing.
"""

from pathlib import Path

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
KITTI_OBJECT_DIR = REAL_DIR / "kitti_object"
