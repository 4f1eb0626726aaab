"""Loaders of the benchmark suite: the dev data files and sklearn's bundled sets.

Every loader returns a :class:`BenchDataset`: a DataFrame whose categorical
columns have pandas ``category`` dtype (so our estimator and
HistGradientBoosting both pick them up from the dtype), a target array and the
task. Nothing is downloaded: the dev files are read from ``TABBENCH_DATA_DIR``
(default ``../shared/datasets`` next to the repository), sklearn's sets ship
with the package.

Choices (stated in benchmarks/README.md):

- adult: the train and test files are concatenated (48,842 rows), "?" is a
  missing value, the test labels' trailing "." is dropped; binary
  ``>50K`` vs ``<=50K``.
- higgs: LightGBM's 7,000 + 500 row subsample, concatenated; binary.
- wine_quality: white wine, quality 3..9 treated as **regression** (an ordered
  score with 5 and 20 rows in the extreme classes; Cortez et al. 2009 report
  it as regression too).
- housing: regression on ``median_house_value``; ``total_bedrooms`` has 207
  NaN, ``ocean_proximity`` is categorical.
- abalone: regression on rings; ``sex`` is categorical.
- breast_cancer, wine, digits (classification) and diabetes (regression):
  ``sklearn.datasets.load_*``.

``max_rows`` subsamples without replacement with a fixed seed (stratified for
classification), so every model sees the same rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "datasets"

ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
ABALONE_COLUMNS = [
    "sex",
    "length",
    "diameter",
    "height",
    "whole_weight",
    "shucked_weight",
    "viscera_weight",
    "shell_weight",
    "rings",
]
WINE_QUALITY_COLUMNS = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
    "quality",
]


@dataclass
class BenchDataset:
    """One benchmark dataset."""

    name: str
    X: pd.DataFrame
    y: np.ndarray
    task: str  # "classification" or "regression"
    n_rows_full: int
    source: str

    @property
    def n_classes(self) -> int:
        return len(np.unique(self.y)) if self.task == "classification" else 0

    @property
    def categorical_columns(self) -> list[str]:
        return [
            c
            for c in self.X.columns
            if isinstance(self.X[c].dtype, pd.CategoricalDtype)
        ]

    def describe(self) -> str:
        n, f = self.X.shape
        n_cat = len(self.categorical_columns)
        n_nan = int(self.X.isna().to_numpy().sum())
        kind = (
            f"{self.n_classes}-class" if self.task == "classification" else "regression"
        )
        capped = "" if n == self.n_rows_full else f" (of {self.n_rows_full:,})"
        return (
            f"{n:,}{capped} rows × {f} cols ({n_cat} categorical, {n_nan} NaN), {kind}"
        )


def data_dir() -> Path:
    """The folder of the dev data files (``TABBENCH_DATA_DIR`` or the default)."""
    path = Path(os.environ.get("TABBENCH_DATA_DIR", DEFAULT_DATA_DIR))
    if not path.is_dir():
        raise FileNotFoundError(
            f"Benchmark data folder {path} not found; set TABBENCH_DATA_DIR to the "
            "folder holding adult-train.csv.gz etc."
        )
    return path


def _cap(ds: BenchDataset, max_rows: int | None, seed: int = 0) -> BenchDataset:
    n = len(ds.X)
    if max_rows is None or n <= max_rows:
        return ds
    stratify = ds.y if ds.task == "classification" else None
    rows, _ = train_test_split(
        np.arange(n), train_size=max_rows, stratify=stratify, random_state=seed
    )
    rows = np.sort(rows)
    X = ds.X.iloc[rows].reset_index(drop=True)
    return BenchDataset(ds.name, X, ds.y[rows], ds.task, n, ds.source)


def _categorize(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for c in columns:
        frame[c] = frame[c].astype("category")
    return frame


def load_adult(max_rows: int | None = None) -> BenchDataset:
    parts = []
    for name in ("adult-train.csv.gz", "adult-test.csv.gz"):
        part = pd.read_csv(
            data_dir() / name,
            header=None,
            names=ADULT_COLUMNS,
            sep=", ",
            engine="python",
            na_values="?",
            skipinitialspace=True,
        )
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["income"])
    y = frame.pop("income").str.rstrip(".").to_numpy()
    categorical = [
        c for c in frame.columns if frame[c].dtype == object or frame[c].dtype == "str"
    ]
    frame = _categorize(frame, categorical)
    ds = BenchDataset("adult", frame, y, "classification", len(frame), "UCI Adult")
    return _cap(ds, max_rows)


def load_higgs(max_rows: int | None = None) -> BenchDataset:
    parts = [
        pd.read_csv(data_dir() / name, header=None, sep="\t")
        for name in ("higgs_binary.train.gz", "higgs_binary.test.gz")
    ]
    frame = pd.concat(parts, ignore_index=True)
    y = frame.pop(0).astype(int).to_numpy()
    frame.columns = [f"f{i}" for i in range(frame.shape[1])]
    ds = BenchDataset(
        "higgs", frame, y, "classification", len(frame), "HIGGS (LightGBM)"
    )
    return _cap(ds, max_rows)


def load_wine_quality(max_rows: int | None = None) -> BenchDataset:
    frame = pd.read_csv(
        data_dir() / "winequality-white.csv.gz", header=None, names=WINE_QUALITY_COLUMNS
    )
    y = frame.pop("quality").astype(float).to_numpy()
    ds = BenchDataset(
        "wine_quality", frame, y, "regression", len(frame), "UCI Wine Quality"
    )
    return _cap(ds, max_rows)


def load_housing(max_rows: int | None = None) -> BenchDataset:
    frame = pd.read_csv(data_dir() / "housing.csv.gz")
    y = frame.pop("median_house_value").astype(float).to_numpy()
    frame = _categorize(frame, ["ocean_proximity"])
    ds = BenchDataset(
        "housing", frame, y, "regression", len(frame), "California housing"
    )
    return _cap(ds, max_rows)


def load_abalone(max_rows: int | None = None) -> BenchDataset:
    frame = pd.read_csv(
        data_dir() / "abalone.csv.gz", header=None, names=ABALONE_COLUMNS
    )
    y = frame.pop("rings").astype(float).to_numpy()
    frame = _categorize(frame, ["sex"])
    ds = BenchDataset("abalone", frame, y, "regression", len(frame), "UCI Abalone")
    return _cap(ds, max_rows)


def _sklearn_loader(name: str, loader: Callable, task: str):
    def load(max_rows: int | None = None) -> BenchDataset:
        X, y = loader(return_X_y=True, as_frame=True)
        X.columns = [str(c) for c in X.columns]
        y = y.to_numpy()
        if task == "regression":
            y = y.astype(float)
        ds = BenchDataset(name, X, y, task, len(X), f"sklearn.datasets.load_{name}")
        return _cap(ds, max_rows)

    load.__name__ = f"load_{name}"
    return load


LOADERS: dict[str, Callable[..., BenchDataset]] = {
    "adult": load_adult,
    "higgs": load_higgs,
    "breast_cancer": _sklearn_loader(
        "breast_cancer", skdatasets.load_breast_cancer, "classification"
    ),
    "wine": _sklearn_loader("wine", skdatasets.load_wine, "classification"),
    "digits": _sklearn_loader("digits", skdatasets.load_digits, "classification"),
    "housing": load_housing,
    "wine_quality": load_wine_quality,
    "abalone": load_abalone,
    "diabetes": _sklearn_loader("diabetes", skdatasets.load_diabetes, "regression"),
}


def load(name: str, max_rows: int | None = None) -> BenchDataset:
    """Load the dataset ``name`` (a key of ``LOADERS``), capped at ``max_rows``."""
    if name not in LOADERS:
        raise ValueError(f"Unknown dataset {name!r}; choose from {sorted(LOADERS)}.")
    return LOADERS[name](max_rows=max_rows)


if __name__ == "__main__":
    for key in LOADERS:
        print(f"{key:14s} {load(key).describe()}")
