"""TabularEncoder: a DataFrame or array into numeric and categorical arrays."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import QuantileTransformer
from sklearn.utils.validation import check_array, check_is_fitted

from ._validation import (
    Interval,
    StrOptions,
    _fit_context,
    as_table,
    did_you_mean,
    format_columns,
    validate_data,
)

_NUMERIC_INFERRED = {"integer", "floating", "mixed-integer-float", "decimal", "empty"}
_CATEGORICAL_INFERRED = {"string", "boolean", "bytes", "categorical"}
_TIME_INFERRED = {
    "datetime",
    "datetime64",
    "date",
    "timedelta",
    "timedelta64",
    "time",
    "period",
}


@dataclass
class EncodedTable:
    """The two inputs of the network.

    Attributes
    ----------
    x_num : ndarray of shape (n_samples, n_numeric), dtype float32
        Scaled numeric columns; NaN marks a missing value.
    x_cat : ndarray of shape (n_samples, n_categorical), dtype int64
        Category indices; 0 is missing or unknown.
    """

    x_num: np.ndarray
    x_cat: np.ndarray

    def __len__(self) -> int:
        return len(self.x_num)


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Turn a table into scaled numeric columns and categorical indices.

    Numeric columns are scaled (by default a quantile transform to a normal
    distribution, robust to outliers and skew); NaN stays NaN and is embedded
    as a learned "missing" token by the network. Categorical columns become
    indices into an embedding table: 0 for missing or unknown values (a
    category not seen in ``fit`` is not an error), 1 to k for the k kept
    categories, k + 1 for the rare ones.

    Parameters
    ----------
    categorical_features : "from_dtype", array-like of str, int or bool, or None, \
default="from_dtype"
        Which columns are categorical. ``"from_dtype"``: pandas ``category``,
        ``object``/``string`` holding strings, and ``bool`` columns. Column
        names, indices or a boolean mask choose them explicitly; ``None``
        means no categorical column (the form of
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`).
    numeric_transform : {"quantile", "standard", "none"}, default="quantile"
        ``"quantile"``: quantile transform to a normal distribution,
        ``"standard"``: zero mean, unit variance, ``"none"``: as given.
    min_frequency : int, default=5
        Categories seen fewer times in ``fit`` share one "rare" index.
    max_categories : int, default=512
        At most this many categories per column keep an index of their own
        (the most frequent ones); the others are treated as rare.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in ``fit``, when they are all strings.
    numeric_columns_ : ndarray of int
        Indices of the numeric columns, in token order.
    categorical_columns_ : ndarray of int
        Indices of the categorical columns, in token order.
    categories_ : list of ndarray
        The categories that kept an index, per categorical column (index
        ``i + 1`` is ``categories_[j][i]``).
    cardinalities_ : list of int
        Embedding-table size of each categorical column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sk_tabattn import TabularEncoder
    >>> X = pd.DataFrame({"age": [30.0, np.nan, 50.0], "city": ["a", "b", "a"]})
    >>> enc = TabularEncoder(min_frequency=1).fit(X)
    >>> enc.cardinalities_
    [3]
    >>> enc.encode(pd.DataFrame({"age": [40.0], "city": ["z"]})).x_cat
    array([[0]])
    """

    _parameter_constraints: dict = {
        "categorical_features": ["array-like", StrOptions({"from_dtype"}), None],
        "numeric_transform": [StrOptions({"quantile", "standard", "none"})],
        "min_frequency": [Interval(Integral, 1, None, closed="left")],
        "max_categories": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        categorical_features="from_dtype",
        numeric_transform="quantile",
        min_frequency=5,
        max_categories=512,
    ):
        self.categorical_features = categorical_features
        self.numeric_transform = numeric_transform
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    # -- fitting ---------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the column kinds, numeric scaling and categories.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            The table.
        y : None
            Ignored.

        Returns
        -------
        self : TabularEncoder
            The fitted encoder.
        """
        return self._fit(X)

    def _fit(self, X) -> TabularEncoder:
        """Fit without parameter validation (the estimators call this)."""
        X = validate_data(self, as_table(X), reset=True, skip_check_array=True)
        frame = _to_frame(X)
        kinds = _column_kinds(frame)
        is_cat = self._categorical_mask(frame, kinds)
        self.numeric_columns_ = np.flatnonzero(~is_cat)
        self.categorical_columns_ = np.flatnonzero(is_cat)
        numeric = _numeric_block(frame, self.numeric_columns_)
        self._scaler = _make_scaler(self.numeric_transform, numeric)
        self.categories_, self._lookups, self.cardinalities_ = [], [], []
        for j in self.categorical_columns_:
            cats, lookup, n_kept = self._fit_categories(frame.iloc[:, j])
            self.categories_.append(cats[:n_kept])
            self._lookups.append((cats, lookup))
            self.cardinalities_.append(int(lookup.max()) + 1)
        return self

    def _categorical_mask(self, frame: pd.DataFrame, kinds: list[str]) -> np.ndarray:
        n = frame.shape[1]
        spec = self.categorical_features
        if isinstance(spec, str):  # "from_dtype"
            return np.array([k == "categorical" for k in kinds], dtype=bool)
        if spec is None:
            mask = np.zeros(n, dtype=bool)
        else:
            mask = _mask_from_spec(np.asarray(spec), frame.columns, n)
        for j in np.flatnonzero(~mask):
            if kinds[j] == "categorical":
                raise ValueError(
                    f"Column {frame.columns[j]!r} holds strings or categories but is "
                    "not in categorical_features. Add it there, or convert it to "
                    "numbers before fit."
                )
        return mask

    def _fit_categories(self, column: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
        """Return the seen categories, the index lookup and the number kept.

        Kept categories come first, then the rare ones.

        ``lookup[code + 1]`` is the embedding index of pandas category code
        ``code`` (-1 for missing/unknown, which maps to 0).
        """
        counts = column.value_counts(dropna=True, sort=False)
        counts = counts[counts > 0]
        # Most frequent first; ties broken by value order for determinism.
        order = np.lexsort((np.arange(len(counts)), -counts.to_numpy()))
        counts = counts.iloc[order]
        kept = counts[counts >= self.min_frequency].iloc[: self.max_categories]
        rare = counts.index.difference(kept.index, sort=False)
        cats = np.asarray(list(kept.index) + list(rare), dtype=object)
        n_kept = len(kept)
        lookup = np.concatenate(
            [[0], np.arange(1, n_kept + 1), np.full(len(rare), n_kept + 1)]
        ).astype(np.int64)
        return cats, lookup, n_kept

    # -- transforming ----------------------------------------------------------
    def encode(self, X) -> EncodedTable:
        """Encode ``X`` into the network's two inputs.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            A table with the columns seen in ``fit``.

        Returns
        -------
        table : EncodedTable
            ``x_num`` float32 and ``x_cat`` int64 arrays.
        """
        check_is_fitted(self)
        frame = _to_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        kinds = _column_kinds(frame)
        numeric = _numeric_block(frame, self.numeric_columns_, kinds)
        x_num = self._scaler(numeric).astype(np.float32, copy=False)
        x_cat = np.zeros((len(frame), len(self.categorical_columns_)), dtype=np.int64)
        for k, (j, (cats, lookup)) in enumerate(
            zip(self.categorical_columns_, self._lookups, strict=True)
        ):
            codes = pd.Categorical(_as_object(frame.iloc[:, j]), categories=cats).codes
            x_cat[:, k] = lookup[codes.astype(np.int64) + 1]
        return EncodedTable(np.ascontiguousarray(x_num), x_cat)

    def transform(self, X) -> np.ndarray:
        """Encode ``X`` as one float array in the column order of ``fit``.

        Numeric columns are scaled (NaN kept); categorical columns hold their
        embedding index as a float.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            A table with the columns seen in ``fit``.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features), dtype float64
            The encoded table.
        """
        check_is_fitted(self)
        X = validate_data(self, as_table(X), reset=False, skip_check_array=True)
        table = self.encode(X)
        out = np.empty((len(table), self.n_features_in_), dtype=np.float64)
        out[:, self.numeric_columns_] = table.x_num
        out[:, self.categorical_columns_] = table.x_cat
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the output column names (the input names, in their order).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names; defaults to ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        names : ndarray of str
            Output column names.
        """
        from sklearn.utils.validation import _check_feature_names_in

        check_is_fitted(self)
        return _check_feature_names_in(self, input_features)

    @property
    def token_columns_(self) -> np.ndarray:
        """Input column index of each network token (numeric first)."""
        return np.concatenate([self.numeric_columns_, self.categorical_columns_])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = []
        return tags


# -- helpers ---------------------------------------------------------------------
def _to_frame(X) -> pd.DataFrame:
    """Return ``X`` as a DataFrame, checking what ``check_array`` would check."""
    if isinstance(X, pd.DataFrame):
        n, m = X.shape
        if n == 0 or m == 0:
            what, minimum = ("sample", 1) if n == 0 else ("feature", 1)
            raise ValueError(
                f"Found array with 0 {what}(s) (shape={X.shape}) while a minimum "
                f"of {minimum} is required."
            )
        if X.columns.has_duplicates:
            dup = X.columns[X.columns.duplicated()].unique()
            raise ValueError(
                f"X has duplicated column names: {format_columns(dup)}. Rename "
                "them so that every column has its own name."
            )
        return X
    if sp.issparse(X):
        # A sparse matrix (e.g. one-hot output of a ColumnTransformer) is
        # densified: the network embeds every column as a token anyway.
        X = check_array(X, accept_sparse=True, ensure_all_finite="allow-nan").toarray()
    arr = check_array(X, dtype=None, ensure_all_finite=False)
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except ValueError:
            pass  # strings: handled column by column
    return pd.DataFrame(arr, copy=False)


def _column_kinds(frame: pd.DataFrame) -> list[str]:
    """Return "numeric" or "categorical" per column; raise on unusable ones."""
    kinds = []
    for name, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
            kinds.append("categorical")
        elif pd.api.types.is_complex_dtype(dtype):
            raise ValueError(f"Complex data not supported: column {name!r} is complex.")
        elif pd.api.types.is_numeric_dtype(dtype):
            kinds.append("numeric")
        elif isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind in "mM":
            raise _time_error(name, "datetime")
        else:
            kinds.append(_object_kind(name, frame[name]))
    return kinds


def _object_kind(name, column: pd.Series) -> str:
    inferred = pd.api.types.infer_dtype(column, skipna=True)
    if inferred in _CATEGORICAL_INFERRED:
        return "categorical"
    if inferred in _NUMERIC_INFERRED:
        return "numeric"
    if inferred in _TIME_INFERRED:
        raise _time_error(name, "timedelta" if "timedelta" in inferred else "datetime")
    types = sorted({type(v).__name__ for v in column.dropna().head(10_000)})
    raise TypeError(
        f"Column {name!r} mixes values of types {types}. A column must hold "
        "either numbers or strings: convert it with .astype(str) to treat it as "
        "categorical, or pd.to_numeric(..., errors='coerce') to treat it as numeric."
    )


def _time_error(name, kind: str) -> TypeError:
    how = (
        "e.g. (X[col] - X[col].min()).dt.days, or .dt.year / .dt.month / .dt.dayofweek"
        if kind == "datetime"
        else "e.g. X[col].dt.total_seconds()"
    )
    return TypeError(
        f"Column {name!r} has a {kind} dtype, which cannot be used directly. "
        f"Convert it to numbers first ({how})."
    )


def _mask_from_spec(spec: np.ndarray, columns: pd.Index, n: int) -> np.ndarray:
    """Boolean mask from names, indices or a mask (HistGradientBoosting's form)."""
    if spec.dtype.kind == "b":
        if spec.shape != (n,):
            raise ValueError(
                f"categorical_features as a boolean mask must have {n} entries, one "
                f"per column. Got {spec.shape[0]}."
            )
        return spec.copy()
    mask = np.zeros(n, dtype=bool)
    if spec.dtype.kind in "iu":
        bad = spec[(spec < 0) | (spec >= n)]
        if bad.size:
            raise ValueError(
                f"categorical_features holds indices out of range for {n} columns: "
                f"{bad.tolist()}."
            )
        mask[spec] = True
        return mask
    names = [str(c) for c in columns]
    for name in spec.tolist():
        if name not in names:
            raise ValueError(
                f"categorical_features names column {name!r}, which is not in X."
                + did_you_mean(name, names)
            )
        mask[names.index(name)] = True
    return mask


def _numeric_block(
    frame: pd.DataFrame, columns: np.ndarray, kinds: list[str] | None = None
) -> np.ndarray:
    """Numeric columns as float64 (NaN for missing); inf is an error."""
    if kinds is not None:
        for j in columns:
            if kinds[j] != "numeric":
                name = frame.columns[j]
                raise ValueError(
                    f"Column {name!r} was numeric in fit but holds strings or "
                    "categories now."
                )
    if not len(columns):
        return np.empty((len(frame), 0))
    block = frame.iloc[:, columns]
    try:
        values = block.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        values = block.apply(pd.to_numeric, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    infinite = np.isinf(values)
    if infinite.any():
        bad = [frame.columns[columns[j]] for j in np.flatnonzero(infinite.any(axis=0))]
        raise ValueError(
            f"Input X contains infinity in column(s) {format_columns(bad)}. Replace "
            "it with NaN (treated as missing) or a finite value."
        )
    return values


def _make_scaler(kind: str, numeric: np.ndarray):
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
        self.scale = np.where(var > 0, np.sqrt(var), 1.0)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return (values - self.mean) / self.scale


class _Quantile:
    """Quantile transform to a normal distribution, skipping all-NaN columns."""

    def __init__(self, values: np.ndarray):
        self.observed = ~np.isnan(values).all(axis=0)
        n = len(values)
        self.transformer = QuantileTransformer(
            n_quantiles=max(min(1000, n), 2),
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


def _as_object(column: pd.Series) -> pd.Series | np.ndarray:
    """Values of a categorical column, compared by value whatever its dtype."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.astype(object)
    return column
