"""Process limits the app's processes need: one open file per event stream."""

from __future__ import annotations

import resource

OPEN_FILES = 16384  # 10,000+ event streams per web process, plus pools, logs and listeners


def raise_open_files(wanted: int = OPEN_FILES) -> int:
    """Raise this process's soft open-file limit towards `wanted` (never past the hard limit, which only root or
    the service manager can raise); children inherit it. Return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft
