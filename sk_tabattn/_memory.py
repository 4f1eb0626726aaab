"""How much memory this process can still take, read from the operating system."""

from __future__ import annotations

import os
from pathlib import Path

#: Linux's estimate of the memory that can be given to a process without swapping.
MEMINFO = Path("/proc/meminfo")
#: The memory controller of this process's cgroup, as a container sees it:
#: cgroup v2 (``memory.max``) and v1 (``memory.limit_in_bytes``).
CGROUP_V2 = Path("/sys/fs/cgroup")
CGROUP_V1 = Path("/sys/fs/cgroup/memory")
#: v1 reports "no limit" as a huge number near 2**63.
_NO_LIMIT = 2**60


def available_memory() -> int | None:
    """Bytes of memory this process can still take, or None if unknown.

    The smaller of the machine's available memory and the headroom under its
    container's limit. The machine's is Linux's ``MemAvailable``, which counts
    the page cache the kernel can reclaim; the free pages (``SC_AVPHYS_PAGES``,
    the fallback elsewhere) leave it out, and on a machine that has read large
    files they can be a small part of what a process can get. Inside a
    container (Docker, Kubernetes, JupyterHub) ``MemAvailable`` is the
    host's, while the kernel kills the process at the container's limit.
    """
    machine = _meminfo_available()
    if machine is None:
        machine = _free_pages()
    limit = _cgroup_headroom()
    known = [m for m in (machine, limit) if m is not None]
    return min(known) if known else None


def format_bytes(n: float) -> str:
    """Return ``n`` bytes in decimal units: ``"8.0 GB"``."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _meminfo_available() -> int | None:
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _free_pages() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf, or not this name
        return None


def _cgroup_headroom() -> int | None:
    """Return this cgroup's limit minus its usage, reclaimable page cache added.

    None without a memory limit (or a readable cgroup). Usage counts page
    cache, which the kernel drops before it kills a process, so the inactive
    file pages count as free, as ``MemAvailable`` counts them.
    """
    for limit_file, usage_file, cache_key in (
        (CGROUP_V2 / "memory.max", CGROUP_V2 / "memory.current", "inactive_file"),
        (
            CGROUP_V1 / "memory.limit_in_bytes",
            CGROUP_V1 / "memory.usage_in_bytes",
            "total_inactive_file",
        ),
    ):
        try:
            limit_text = limit_file.read_text().strip()
        except OSError:
            continue
        if limit_text == "max":
            return None
        try:
            limit = int(limit_text)
            usage = int(usage_file.read_text())
        except (OSError, ValueError):
            return None
        if limit >= _NO_LIMIT:
            return None
        cache = _stat(limit_file.parent / "memory.stat", cache_key)
        return max(limit - usage, 0) + cache
    return None


def _stat(path: Path, key: str) -> int:
    """Return a counter of a cgroup's ``memory.stat`` (0 if it cannot be read)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0
