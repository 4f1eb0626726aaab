"""The per-row attention maps of ``explain``: their size, a memory guard, a store.

The maps take ``n_rows × n_columns²`` floats per block, which predict's fused
kernels never hold: here ``explain`` sizes its batches by them, checks that
the kept ones fit in memory before any work, and writes them into one array
per block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._memory import available_memory, format_bytes

#: The attention maps are reported as float32 (``explain``'s ``_to_cpu``).
MAP_DTYPE = np.dtype(np.float32)

#: Attention-map floats one batch of ``explain`` may compute (256 MiB).
EXPLAIN_MAP_FLOATS = 2**26

#: The share of the available memory the kept maps may take.
MAP_MEMORY_SHARE = 0.8


def returns_maps(block) -> bool:
    """Whether a block returns a position-by-position map when asked.

    ``need_weights`` is the switch that makes ``self``, ``multihead`` and
    ``mha`` return their maps, and what the recorder turns on.
    """
    return hasattr(block, "need_weights")


def map_blocks(module) -> list[tuple[Any, int]]:
    """Each attention block that returns a map, with its stream's column count.

    Read from the fitted module, without running it.
    """
    return [
        (residual.block, len(branch.positions))
        for branch in module.branches
        for residual in branch.attentions
        if returns_maps(residual.block)
    ]


def map_floats_per_row(estimator) -> int:
    """Floats a row's attention maps take while computed (all heads, all blocks)."""
    return sum(
        block.weight_floats(width, estimator.n_heads)
        for block, width in map_blocks(estimator.net_.module_)
    )


def default_batch_size(estimator, *, with_maps: bool) -> int:
    """Rows per batch when ``batch_size=None``: predict's, fewer for wide maps.

    Predict's fused kernels never hold the attention maps, which explain asks
    for; with them the working set was about 3 times the maps (1,000 columns,
    ``multihead``, 2 heads: 3.1 GB more at predict's 128 rows, 0.44 GB at 32
    rows, in the same time), so a batch's maps are kept within
    ``EXPLAIN_MAP_FLOATS``.
    """
    batch = estimator.net_.iterator_valid__batch_size
    per_row = map_floats_per_row(estimator) if with_maps else 0
    return min(batch, max(EXPLAIN_MAP_FLOATS // per_row, 1)) if per_row else batch


def attention_map_bytes(estimator, n_rows: int) -> int:
    """Bytes the attention maps of ``n_rows`` rows take in an Explanation."""
    widths = [width for _, width in map_blocks(estimator.net_.module_)]
    return n_rows * sum(w * w for w in widths) * MAP_DTYPE.itemsize


def check_map_memory(estimator, n_rows: int) -> None:
    """Raise a MemoryError if the maps of ``n_rows`` rows would not fit in memory.

    They may take ``MAP_MEMORY_SHARE`` of the memory available; the rest is
    for everything else ``explain`` and the process hold (a batch's working
    set, the other tables). Called before any row is run, so that a call that
    cannot finish fails at once, before the process runs out of memory and is
    killed.
    """
    needed = attention_map_bytes(estimator, n_rows)
    if needed == 0:
        return
    available = available_memory()
    if available is None:
        return
    usable = int(available * MAP_MEMORY_SHARE)
    if needed <= usable:
        return
    fitting = usable * n_rows // needed
    remedy = (
        f"Explain at most {fitting:,} rows at a time, or pass attention_maps=False"
        if fitting >= 1
        else "Even one row's maps do not fit: pass attention_maps=False"
    )
    raise MemoryError(
        f"The attention maps of {n_rows:,} rows would take "
        f"{format_bytes(needed)}, more than {MAP_MEMORY_SHARE:.0%} of the "
        f"{format_bytes(available)} of memory available. {remedy} to get the "
        "rest of the explanation, feature attention included, without the maps."
    )


class MapStore:
    """Each attention block's maps, written batch by batch into one array.

    The arrays are the ones the Explanation returns, in input column order,
    so the maps are held once: per-batch pieces joined at the end were held
    three times at the peak (pieces, concatenation, reordered copy).
    """

    def __init__(self, n_rows: int):
        self.n_rows = n_rows
        # (stream, block) -> (columns in input order, their order, maps)
        self.maps: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}

    def add(self, key: tuple[int, int], columns, weights, start: int) -> None:
        """Write one batch's maps of a block, ``[B, L, L]``, from row ``start``."""
        if key not in self.maps:
            order = np.argsort(columns, kind="stable")
            n = len(columns)
            store = np.empty((self.n_rows, n, n), dtype=MAP_DTYPE)
            self.maps[key] = (columns[order], order, store)
        _, order, store = self.maps[key]
        rows = slice(start, start + len(weights))
        if (order[1:] > order[:-1]).all():
            store[rows] = weights
        else:  # streams whose tokens are not in input order
            store[rows] = weights[:, order[:, None], order]
