"""glibc malloc settings for a process that makes multi-megabyte messages every frame.

By default glibc serves each allocation above its mmap threshold (128 KB, rising
only after such a block is freed) with a fresh ``mmap`` and returns it with
``munmap`` on free. A 375x1242 organised cloud is 7.4 MB and rclpy copies it
three times per publish (message, C struct, CDR buffer): every copy then lands
on new pages and page-faults them in, ~20 ms per cloud on a VM. Raising the mmap
and trim thresholds keeps those blocks in the heap for the next frame (1-2 ms).
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's upper bound on 64-bit


def keep_large_buffers(threshold_bytes: int = MAX_MMAP_THRESHOLD) -> str:
    """Raise this process's malloc mmap/trim thresholds; a line saying what was done (glibc only)."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return "malloc thresholds: left as set in the environment"
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "malloc thresholds: not glibc, left alone"
    n = min(int(threshold_bytes), MAX_MMAP_THRESHOLD)
    if mallopt(M_MMAP_THRESHOLD, n) != 1 or mallopt(M_TRIM_THRESHOLD, 2 * n) != 1:
        return "malloc thresholds: glibc refused them, left alone"
    return f"malloc keeps blocks up to {n >> 20} MB in the heap (large messages reuse their memory)"
