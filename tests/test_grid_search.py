"""GridSearch: searchsorted's counts, through a grid where a row allows it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sk_tabattn._grid_search import GridSearch

rng = np.random.RandomState(0)

#: (row, whether the grid should take it): each row is 1,000 points, sorted.
ROWS = {
    "normal": (rng.normal(size=1000), True),
    "integers, ties everywhere": (rng.randint(0, 100, 1000).astype(float), True),
    "skewed": (rng.lognormal(0, 1, 1000), True),
    "narrow range at a large offset": (1e3 + rng.rand(1000) * 1e-2, True),
    "huge magnitudes": (rng.normal(size=1000) * 1e300, True),
    # Too many points in one cell: searchsorted.
    "zero-inflated": (np.where(rng.rand(1000) < 0.6, 0.0, rng.rand(1000)), False),
    "constant": (np.full(1000, 2.5), False),
    "far outlier": (np.append(rng.normal(size=999), 1e12), False),
    "long tails": (rng.standard_cauchy(1000), False),
    "integers, few values": (rng.randint(-3, 4, 1000).astype(float), False),
    # 1 / width overflows: searchsorted.
    "subnormal": (rng.rand(1000) * 1e-311, False),
    "range below the rounding": (1e6 + rng.rand(1000) * 1e-12, False),
}


def _queries(row: np.ndarray) -> np.ndarray:
    """The points, their floating-point neighbours, values around and beyond."""
    scale = np.abs(row).max() or 1.0
    return np.concatenate(
        [
            row,
            np.nextafter(row, np.inf),
            np.nextafter(row, -np.inf),
            rng.uniform(row.min(), row.max(), 2000),
            rng.normal(size=200) * scale * 10,
            [-1.7e308, 1.7e308, 0.0, -0.0, 5e-324],
        ]
    )


@pytest.mark.parametrize("name", list(ROWS))
def test_counts_equal_searchsorted(name):
    row, fast = ROWS[name]
    other = np.sort(rng.normal(size=1000))  # a second, ordinary row
    rows = torch.from_numpy(np.stack([np.sort(row), other]))
    queries = _queries(row)
    x = torch.from_numpy(np.stack([queries, rng.normal(size=len(queries))]))
    search = GridSearch(rows)
    assert search.fast.tolist() == [fast, True]
    assert torch.equal(search(x), torch.searchsorted(rows, x, right=True))


@pytest.mark.parametrize("n_points", [2, 3, 17])
def test_few_points(n_points):
    rows = torch.from_numpy(np.sort(rng.normal(size=(3, n_points)), axis=1))
    x = torch.from_numpy(np.concatenate([rows.numpy(), rng.normal(size=(3, 500))], 1))
    search = GridSearch(rows)
    assert search.all_fast
    assert torch.equal(search(x), torch.searchsorted(rows, x, right=True))


def test_nan_gets_a_count_in_range():
    rows = torch.from_numpy(np.sort(rng.normal(size=(1, 100)), axis=1))
    counts = GridSearch(rows)(torch.tensor([[np.nan, 0.0]], dtype=torch.float64))
    assert 0 <= int(counts[0, 0]) <= 100


@pytest.mark.parametrize(
    ("n_points", "dtype"), [(1000, torch.int16), (40_000, torch.int64)]
)
def test_counts_are_stored_narrow_when_they_fit(n_points, dtype):
    rows = torch.from_numpy(np.sort(rng.normal(size=(2, n_points)), axis=1))
    x = torch.from_numpy(np.concatenate([rows.numpy(), rng.normal(size=(2, 500))], 1))
    search = GridSearch(rows)
    assert search.below.dtype == dtype
    assert torch.equal(search(x), torch.searchsorted(rows, x, right=True))
