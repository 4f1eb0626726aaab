"""Keep glibc from handing a training step's memory back to the OS every step.

glibc's ``malloc`` maps blocks above its mmap threshold with ``mmap`` and
returns free memory at the top of its heap to the OS once that exceeds the
trim threshold. Both start low (128 KiB) and rise as the process frees larger
mapped blocks: freeing one of ``S`` bytes (up to 32 MiB) sets them to ``S`` and
``2 S``. A process whose largest freed block so far is smaller than a training
step's transient memory frees each step's activations past the trim threshold,
so they go back to the OS and are faulted in again, page by page, in the next
step. Which processes are in that state depends on what they allocated before.

Fitting 20,000 x 20 in fresh processes (2 cores, 2026-12-05), 14 of 18 default
fits ran 41,000-88,000 page faults an epoch, and the 18 took a median of 0.778 s
an epoch; with one 30 MiB block freed first, none of 18 did, and the median
epoch was 0.713 s.

:func:`raise_malloc_thresholds` frees such a block once a process: the state
glibc itself reaches in a process that has freed a 30 MiB array. Blocks up to
30 MiB then come from the heap, and up to 60 MiB of free memory stays mapped
for reuse. A threshold set by the user (``MALLOC_MMAP_THRESHOLD_``, which turns
the dynamic thresholds off) or another allocator (jemalloc, tcmalloc) is left
as it is.
"""

from __future__ import annotations

import ctypes
import os

#: Size of the block allocated and freed: just under the 32 MiB up to which
#: glibc raises its thresholds (``DEFAULT_MMAP_THRESHOLD_MAX`` on 64-bit).
PRIMING_BYTES = 30 * 2**20

_done = False


def is_glibc() -> bool:
    """Whether this process runs on GNU libc."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (AttributeError, ValueError, OSError):  # not Linux, or not glibc
        return False


def raise_malloc_thresholds() -> None:
    """Raise glibc's dynamic mmap and trim thresholds, once a process.

    Allocates and frees one ``PRIMING_BYTES`` block with ``malloc``: glibc
    maps it, and freeing it raises the thresholds to its size (and twice its
    size). The block is never written, so it costs no page faults. A no-op
    on other C libraries and on every call after the first.
    """
    global _done
    if _done:
        return
    _done = True
    if not is_glibc():
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(PRIMING_BYTES))
