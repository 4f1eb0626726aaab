"""Data and cross-parameter checks.

This is the one module that imports scikit-learn's private helpers, so that a
future scikit-learn change is a one-file fix.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable

import pandas as pd
import torch
from sklearn.base import _fit_context  # noqa: F401  (re-exported)
from sklearn.utils import _safe_indexing  # noqa: F401  (re-exported)
from sklearn.utils._param_validation import (  # noqa: F401  (re-exported)
    HasMethods,
    Interval,
    StrOptions,
)
from sklearn.utils.validation import (  # noqa: F401  (re-exported)
    _check_feature_names_in,
    _check_sample_weight,
    _check_y,
    _num_samples,
    check_array,
    validate_data,
)
from skorch.callbacks import Callback

#: The names the estimators give their own skorch callbacks (``_build_net``).
OWN_CALLBACKS = ("lr_schedule", "early_stopping", "progress_bar", "weight_average")

_INTERNAL_ERROR = "Internal error in sk_tabattn: please report it with a reproducer."


class SkTabAttnWarning(UserWarning):
    """Base class of the warnings of sk_tabattn, so they can be filtered together."""


class TooFewSamplesWarning(SkTabAttnWarning):
    """Early stopping was skipped because the training set is too small to split."""


def as_table(X):
    """Return a DataFrame as it is, anything else as a 2-D array or CSR matrix.

    Gives scikit-learn's errors for 1-D, 3-D or empty input, without dtype
    conversion (strings stay strings, NaN and inf are checked later). A polars
    DataFrame or a pyarrow Table is read as its ``to_pandas()``.
    """
    X = _foreign_frame_as_pandas(X)
    if isinstance(X, pd.DataFrame):
        if X.columns.has_duplicates:
            dup = X.columns[X.columns.duplicated()].unique()
            raise ValueError(
                f"X has duplicated column names: {format_columns(dup)}. Rename "
                "them so that every column has its own name."
            )
        return X
    return check_array(X, dtype=None, accept_sparse="csr", ensure_all_finite=False)


def _foreign_frame_as_pandas(X):
    """Return a polars DataFrame or pyarrow Table as a pandas DataFrame.

    So is any table with columns and a ``to_pandas`` method or an Arrow stream
    export; anything else is returned as it is. ``check_array`` would make
    such a table one array, losing its column names and dtypes: a category
    column would be read as text, and predict could not check the names.
    """
    if hasattr(X, "collect") and hasattr(X, "collect_schema"):
        raise TypeError(
            f"X is a lazy {type(X).__module__}.{type(X).__qualname__}, a query "
            "plan rather than data. Run it first: X.collect()."
        )
    if (
        isinstance(X, pd.DataFrame)
        or not hasattr(X, "columns")  # a Series or Array is 1-D: check_array's error
        or not (hasattr(X, "to_pandas") or hasattr(X, "__arrow_c_stream__"))
    ):
        return X
    try:
        if hasattr(X, "to_pandas"):  # polars' and pyarrow's own conversion
            return X.to_pandas()
        import pyarrow as pa

        return pa.table(X).to_pandas()
    except ImportError as exc:
        raise ImportError(
            f"X is a {type(X).__module__}.{type(X).__qualname__}; reading it as a "
            "pandas DataFrame needs pyarrow: pip install pyarrow"
        ) from exc


def did_you_mean(value: str, options: Iterable[str]) -> str:
    """Return a " Did you mean 'x'?" hint for a likely typo, or ``""``."""
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def format_columns(columns: Iterable, limit: int = 5) -> str:
    """Format column names for an error message, at most ``limit`` of them."""
    columns = list(columns)
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def check_cross_parameters(est) -> None:
    """Check the parameter combinations that constraints cannot express.

    Parameters
    ----------
    est : estimator
        A sk_tabattn estimator whose parameters passed their constraints.

    Raises
    ------
    ValueError
        For ``attention="mha"`` with ``d_token`` not divisible by ``n_heads``, a
        ``device`` this torch cannot use, or a callback named like one of the
        estimator's own.
    TypeError
        For a ``callbacks`` entry that is not a skorch callback.
    """
    if est.attention == "mha" and est.d_token % est.n_heads:
        raise ValueError(
            "d_token must be divisible by n_heads when attention='mha'. "
            f"Got d_token={est.d_token}, n_heads={est.n_heads}."
        )
    _check_device(est.device)
    _check_callbacks(est.callbacks)


def check_parameters(est) -> None:
    """Check ``est``'s parameters as ``fit`` does, without fitting.

    For callers that fit through scikit-learn (the command line's
    ``cross_validate``), whose errors would name the caller, not the estimator.
    """
    est._validate_params()
    check_cross_parameters(est)


def _check_device(device: str | torch.device) -> None:
    """Refuse a device name torch does not know, or a device this machine lacks."""
    try:
        kind = torch.device(device).type
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    backend = torch.backends if kind == "mps" else torch
    available = getattr(getattr(backend, kind, None), "is_available", None)
    if kind != "cpu" and callable(available) and not available():
        raise ValueError(
            f"device={device!r}, but this torch has no {kind} device here. "
            "Use device='cpu'."
        )


def _check_callbacks(callbacks: list | None) -> None:
    """Each entry: a skorch callback, or a (name, callback) pair."""
    for entry in callbacks or []:
        pair = isinstance(entry, tuple) and len(entry) == 2
        name, callback = entry if pair else (None, entry)
        is_callback = isinstance(callback, Callback) or (
            isinstance(callback, type) and issubclass(callback, Callback)
        )
        if not is_callback or not (name is None or isinstance(name, str)):
            raise TypeError(
                "callbacks must be a list of skorch callbacks or (name, callback) "
                f"pairs. Got {entry!r}."
            )
        if name in OWN_CALLBACKS:
            raise ValueError(
                f"callbacks: the name {name!r} is the estimator's own; choose "
                f"another. Taken: {format_columns(OWN_CALLBACKS)}."
            )


def warn(message: str, category: type[SkTabAttnWarning] = SkTabAttnWarning) -> None:
    """Emit a sk_tabattn warning pointing at the user's call."""
    warnings.warn(message, category, stacklevel=4)
