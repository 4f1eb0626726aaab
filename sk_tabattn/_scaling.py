"""Numeric scalings learned by TabularEncoder (NaN-aware)."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import QuantileTransformer


def make_scaler(kind: str, numeric: np.ndarray):
    """Fit the numeric scaling and return it as a function of a float array."""
    if numeric.shape[1] == 0 or kind == "none":
        return _Identity()
    if kind == "standard":
        return _Standard(numeric)
    return _Quantile(numeric)


class _Identity:
    def __call__(self, values: np.ndarray) -> np.ndarray:
        return values


class _Standard:
    """NaN-aware standard scaling; a constant or all-NaN column maps to 0."""

    def __init__(self, values: np.ndarray):
        with np.errstate(all="ignore"):
            observed = ~np.isnan(values)
            counts = observed.sum(axis=0)
            mean = np.where(
                counts > 0, np.nansum(values, axis=0) / np.maximum(counts, 1), 0.0
            )
            var = np.nansum((values - mean) ** 2, axis=0) / np.maximum(counts, 1)
        self.mean = mean
        self.scale = np.where((var > 0) & np.isfinite(var), np.sqrt(var), 1.0)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return (values - self.mean) / self.scale


class _Quantile:
    """Quantile transform to a normal distribution, skipping all-NaN columns."""

    def __init__(self, values: np.ndarray):
        self.observed = ~np.isnan(values).all(axis=0)
        self.transformer = QuantileTransformer(
            n_quantiles=min(1000, len(values)),
            output_distribution="normal",
            subsample=None,
        )
        if self.observed.any():
            self.transformer.fit(values[:, self.observed])

    def __call__(self, values: np.ndarray) -> np.ndarray:
        out = np.full(values.shape, np.nan)
        if self.observed.any():
            out[:, self.observed] = self.transformer.transform(values[:, self.observed])
        return out
