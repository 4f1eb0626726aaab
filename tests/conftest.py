"""Shared fixtures: seeds, small data sets and tiny estimator parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

#: Small, fast settings for tests (no early stopping unless a test asks).
TINY = {
    "d_token": 8,
    "n_heads": 2,
    "attention_dim": 8,
    "n_blocks": 1,
    "max_epochs": 5,
    "batch_size": 32,
    "early_stopping": False,
    "device": "cpu",
    "random_state": 0,
}


@pytest.fixture(autouse=True)
def seed_everything():
    """Seed numpy and torch before every test, so tests do not depend on order."""
    np.random.seed(0)  # noqa: NPY002  (code under test may use the legacy API)
    torch.manual_seed(0)


@pytest.fixture
def tiny_params() -> dict:
    return dict(TINY)


@pytest.fixture(scope="module")
def numeric_data():
    """A float32 array with a learnable binary target."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def mixed_frame():
    """A DataFrame with numeric, string, bool and category columns, NaN, and
    string labels that depend on a numeric and a categorical column."""
    rng = np.random.RandomState(0)
    n = 150
    age = rng.normal(40, 10, n)
    age[rng.rand(n) < 0.1] = np.nan
    city = rng.choice(["paris", "lyon", "nice"], n).astype(object)
    city[rng.rand(n) < 0.05] = None
    X = pd.DataFrame(
        {
            "age": age,
            "income": rng.lognormal(10, 1, n),
            "city": city,
            "member": rng.rand(n) < 0.5,
            "plan": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    score = np.nan_to_num(age - 40) / 10 + (X["city"] == "paris") * 1.5
    y = np.where(score > 0.3, "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(150, 4))
    y = 3 * X[:, 0] - 2 * X[:, 1] + 0.1 * rng.normal(size=150) + 100
    return X, y
