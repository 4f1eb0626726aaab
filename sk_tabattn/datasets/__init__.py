"""Small real datasets bundled with sk_tabattn, for the demo, docs and tests.

Both have categorical and missing values, the kind of table the estimators
take directly. See ``SOURCES.md`` in this folder for their origin and licence.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education_num", "marital_status",
    "occupation", "relationship", "race", "sex", "capital_gain", "capital_loss",
    "hours_per_week", "native_country", "income",
]  # fmt: skip


def _path(name: str):
    return resources.files(__name__).joinpath(name)


def _subsample(X: pd.DataFrame, y: pd.Series, n_rows, random_state):
    if n_rows is None or n_rows >= len(X):
        return X, y
    rows = np.sort(np.random.RandomState(random_state).permutation(len(X))[:n_rows])
    return X.iloc[rows].reset_index(drop=True), y.iloc[rows].reset_index(drop=True)


def load_adult(n_rows: int | None = None, random_state: int = 0):
    """Load UCI Adult (census income): does a person earn more than 50K a year.

    32,561 rows; 6 numeric and 8 categorical columns, with missing values in
    ``workclass``, ``occupation`` and ``native_country``.

    Parameters
    ----------
    n_rows : int or None, default=None
        Return a random subsample of this many rows (all rows if None).
    random_state : int, default=0
        Seed of the subsample.

    Returns
    -------
    X : DataFrame of shape (n_rows, 14)
        The features, categorical columns as strings, NaN where missing.
    y : Series of shape (n_rows,)
        The labels ``"<=50K"`` and ``">50K"``.

    Examples
    --------
    >>> from sk_tabattn.datasets import load_adult
    >>> X, y = load_adult(n_rows=100)
    >>> X.shape, sorted(y.unique())
    ((100, 14), ['<=50K', '>50K'])
    """
    with _path("adult-train.csv.gz").open("rb") as f:
        frame = pd.read_csv(
            f,
            compression="gzip",
            header=None,
            names=ADULT_COLUMNS,
            skipinitialspace=True,
            na_values="?",
        )
    y = frame.pop("income").rename("income")
    return _subsample(frame, y, n_rows, random_state)


def load_housing(n_rows: int | None = None, random_state: int = 0):
    """Load California housing (1990 census): median house value of a block group.

    20,640 rows; 8 numeric columns (207 missing ``total_bedrooms``) and the
    categorical ``ocean_proximity``.

    Parameters
    ----------
    n_rows : int or None, default=None
        Return a random subsample of this many rows (all rows if None).
    random_state : int, default=0
        Seed of the subsample.

    Returns
    -------
    X : DataFrame of shape (n_rows, 9)
        The features.
    y : Series of shape (n_rows,)
        ``median_house_value`` in dollars.

    Examples
    --------
    >>> from sk_tabattn.datasets import load_housing
    >>> X, y = load_housing(n_rows=50)
    >>> X.shape
    (50, 9)
    """
    with _path("housing.csv.gz").open("rb") as f:
        frame = pd.read_csv(f, compression="gzip")
    y = frame.pop("median_house_value")
    return _subsample(frame, y, n_rows, random_state)
