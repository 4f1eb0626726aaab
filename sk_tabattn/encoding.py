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

#: What ``pd.api.types.infer_dtype`` reports for an object column, by kind.
_INFERRED_KIND = {
    "integer": "numeric",
    "floating": "numeric",
    "mixed-integer-float": "numeric",
    "decimal": "numeric",
    "empty": "numeric",  # only missing values: a column without signal
    "string": "categorical",
    "bytes": "categorical",
    "categorical": "categorical",
    "boolean": "bool",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
    "time": "time",
    "timedelta": "timedelta",
    "timedelta64": "timedelta",
    "period": "period",
    "mixed": "mixed",
    "mixed-integer": "mixed",
    "complex": "complex",
}

_CONVERSION_HINT = {
    "datetime": (
        "a datetime column cannot be used directly. Convert it to numbers first, "
        "e.g. (X[col] - X[col].min()).dt.days, or X[col].dt.year / .dt.month / "
        ".dt.dayofweek as separate columns"
    ),
    "timedelta": (
        "a timedelta column cannot be used directly. Convert it to numbers first, "
        "e.g. X[col].dt.total_seconds()"
    ),
    "period": (
        "a period column cannot be used directly. Convert it to numbers first, "
        "e.g. X[col].dt.year, or X[col].dt.start_time for a datetime"
    ),
    "time": (
        "a column of times of day cannot be used directly. Convert it to numbers "
        "first, e.g. X[col].map(lambda t: t.hour * 60 + t.minute)"
    ),
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

    What happens to each kind of column:

    - **numeric** (int, float, nullable ``Int64``/``Float64``, or an object
      column holding numbers): scaled as learned in ``fit`` (by default a
      quantile transform to a normal distribution, robust to outliers and
      skew). NaN, ``None`` and ``pd.NA`` stay NaN, and the network embeds them
      as a learned per-column "missing" token: no imputation needed.
    - **categorical** (pandas ``category``, ``object``/``str``/``string``
      holding strings, ``bool``/``boolean``): an index into the column's
      embedding table. 0 means missing *or unknown*: a category not seen in
      ``fit`` is not an error. 1 to k are the k kept categories (most
      frequent first) and k + 1 is shared by the rare ones (seen fewer than
      ``min_frequency`` times, or beyond the ``max_categories`` most
      frequent). Values are matched by value, so a column that was
      ``category`` in ``fit`` may arrive as ``object`` or ``str``, or with its
      categories in another order, and is encoded identically.
    - **datetime, timedelta, period, mixed types** (e.g. numbers and strings
      in one object column): a ``TypeError`` that names the column and says
      how to convert it, unless ``categorical_features`` lists the column, in
      which case its values are categories.

    Parameters
    ----------
    categorical_features : "from_dtype", array-like of str, int or bool, or None, \
default="from_dtype"
        Which columns are categorical. ``"from_dtype"``: pandas ``category``,
        ``object``/``string`` holding strings, and ``bool`` columns. Column
        names, indices or a boolean mask choose them explicitly (a ``bool``
        column left out is then numeric 0/1); ``None`` means no categorical
        column (the form of
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`).
    numeric_transform : {"quantile", "standard", "none"}, default="quantile"
        ``"quantile"``: quantile transform to a normal distribution (at most
        1,000 quantiles), ``"standard"``: zero mean, unit variance, ``"none"``:
        as given. Statistics ignore missing values; a constant or all-missing
        column is accepted and carries no signal.
    min_frequency : int, default=5
        Categories seen fewer times in ``fit`` share one "rare" index.
    max_categories : int, default=512
        The cap on high cardinality: at most this many categories per column
        keep an index of their own (the most frequent ones); the others share
        the "rare" index, so an embedding table has at most
        ``max_categories + 2`` rows.

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

    See Also
    --------
    AttentionCNNClassifier : Fits this encoder inside ``fit`` (as ``encoder_``).

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
        """Fit without parameter validation (the estimators call this).

        Nothing is stored until every check has passed, so a failed ``fit``
        leaves a previously fitted encoder as it was.
        """
        X = as_table(X)
        _check_column_names(X)
        # Feature names are validated on a stand-in, and copied at the end.
        names = _NameHolder()
        validate_data(names, X, reset=True, skip_check_array=True)
        frame = _to_frame(X)
        kinds = [_column_kind(frame.iloc[:, j]) for j in range(frame.shape[1])]
        feature_names = getattr(names, "feature_names_in_", None)
        is_cat = self._categorical_mask(frame, kinds, feature_names)
        numeric_columns = np.flatnonzero(~is_cat)
        categorical_columns = np.flatnonzero(is_cat)
        numeric = _numeric_block(frame, numeric_columns, kinds)
        scaler = _make_scaler(self.numeric_transform, numeric)
        lookups = [
            self._fit_categories(frame.iloc[:, j], frame.columns[j])
            for j in categorical_columns
        ]

        self.n_features_in_ = names.n_features_in_
        if feature_names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = feature_names
        self.numeric_columns_ = numeric_columns
        self.categorical_columns_ = categorical_columns
        self._scaler = scaler
        self._lookups = [(cats, lookup) for cats, lookup, _ in lookups]
        self.categories_ = [cats[:n_kept] for cats, _, n_kept in lookups]
        # Index 0 (missing/unknown), the kept ones, and one shared rare index.
        self.cardinalities_ = [
            n_kept + 1 + int(len(cats) > n_kept) for cats, _, n_kept in lookups
        ]
        return self

    def _categorical_mask(
        self, frame: pd.DataFrame, kinds: list[str], feature_names
    ) -> np.ndarray:
        """Which columns are categorical; raise for columns that are neither."""
        n = frame.shape[1]
        spec = self.categorical_features
        if isinstance(spec, str):  # "from_dtype"
            mask = np.array([k in ("categorical", "bool") for k in kinds], dtype=bool)
        elif spec is None:
            mask = np.zeros(n, dtype=bool)
        else:
            mask = _mask_from_spec(spec, feature_names, n)
        for j in np.flatnonzero(~mask):
            if kinds[j] == "categorical":
                raise ValueError(
                    f"Column {frame.columns[j]!r} holds strings or categories but is "
                    "not in categorical_features. Add it there, or convert it to "
                    "numbers before fit."
                )
            _check_numeric_kind(frame.iloc[:, j], frame.columns[j], kinds[j])
        return mask

    def _fit_categories(
        self, column: pd.Series, name
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Return the seen categories, their index lookup and the number kept.

        Kept categories come first (most frequent first, ties in value order),
        then the rare ones, which share the index ``n_kept + 1``.
        """
        try:
            counts = column.value_counts(dropna=True, sort=False)
            counts = counts[counts > 0]  # unused categories of a category dtype
            values = np.asarray(counts.index, dtype=object)
            for value in values:
                hash(value)  # categories are looked up by value at predict time
        except TypeError as exc:  # e.g. lists or dicts as values
            raise TypeError(
                f"Column {name!r} is categorical but holds values that cannot be "
                f"looked up as categories ({exc}). Convert them with .astype(str)."
            ) from None
        freq = counts.to_numpy()
        try:  # value order for ties, so that the dtype does not matter
            rank = np.empty(len(values), dtype=np.int64)
            rank[pd.Index(values).argsort()] = np.arange(len(values))
        except TypeError:  # values of mixed types: order of appearance
            rank = np.arange(len(values))
        order = np.lexsort((rank, -freq))
        values, freq = values[order], freq[order]
        n_kept = min(int((freq >= self.min_frequency).sum()), self.max_categories)
        n_rare = len(values) - n_kept
        # lookup[p + 1] is the index of values[p]; lookup[0] = 0 for p = -1.
        lookup = np.concatenate(
            [[0], np.arange(1, n_kept + 1), np.full(n_rare, n_kept + 1)]
        ).astype(np.int64)
        return values, lookup, n_kept

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
        X = as_table(X)
        _check_column_names(X)
        frame = _to_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        numeric = _numeric_block(frame, self.numeric_columns_)
        x_num = _to_float32(self._scaler(numeric), frame, self.numeric_columns_)
        x_cat = np.empty((len(frame), len(self.categorical_columns_)), dtype=np.int64)
        for k, (j, (cats, lookup)) in enumerate(
            zip(self.categorical_columns_, self._lookups, strict=True)
        ):
            values = frame.iloc[:, j].to_numpy(dtype=object)
            # Position -1 (missing, or not seen in fit) becomes index 0.
            try:
                position = pd.Index(cats, dtype=object).get_indexer(values)
            except TypeError as exc:  # e.g. lists or dicts as values
                raise TypeError(
                    f"Column {frame.columns[j]!r} is categorical but holds values "
                    f"that cannot be looked up as categories ({exc}). Convert them "
                    "with .astype(str)."
                ) from None
            x_cat[:, k] = lookup[position + 1]
        return EncodedTable(x_num, x_cat)

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
        X = as_table(X)
        _check_column_names(X)
        X = validate_data(self, X, reset=False, skip_check_array=True)
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


class _NameHolder(BaseEstimator):
    """Receives ``n_features_in_`` and ``feature_names_in_`` from validation."""


# -- checks ----------------------------------------------------------------------
def _check_column_names(X) -> None:
    """Raise for duplicated column names (before sklearn's less clear error)."""
    if isinstance(X, pd.DataFrame) and X.columns.has_duplicates:
        dup = X.columns[X.columns.duplicated()].unique()
        raise ValueError(
            f"X has duplicated column names: {format_columns(dup)}. Rename "
            "them so that every column has its own name."
        )


def _to_frame(X) -> pd.DataFrame:
    """Return ``X`` as a DataFrame, checking what ``check_array`` would check."""
    if isinstance(X, pd.DataFrame):
        n, m = X.shape
        if n == 0 or m == 0:
            what = "sample" if n == 0 else "feature"
            raise ValueError(
                f"Found array with 0 {what}(s) (shape={X.shape}) while a minimum "
                "of 1 is required."
            )
        return X
    if sp.issparse(X):
        # A sparse matrix (e.g. one-hot output of a ColumnTransformer) is
        # densified: the network embeds every column as a token anyway.
        X = check_array(X, accept_sparse=True, ensure_all_finite=False).toarray()
    arr = check_array(X, dtype=None, ensure_all_finite=False)
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            pass  # strings: handled column by column
    return pd.DataFrame(arr, copy=False)


def _column_kind(column: pd.Series) -> str:
    """Kind of a column: "numeric", "categorical", "bool", or an unusable kind."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_complex_dtype(dtype):
        return "complex"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind == "M":
        return "datetime"
    if dtype.kind == "m":
        return "timedelta"
    if isinstance(dtype, pd.PeriodDtype):
        return "period"
    inferred = pd.api.types.infer_dtype(column, skipna=True)
    return _INFERRED_KIND.get(inferred, "other")


def _check_numeric_kind(column: pd.Series, name, kind: str) -> None:
    """Raise a clear error if a non-categorical column cannot be numbers."""
    if kind in ("numeric", "bool"):
        return
    if kind in _CONVERSION_HINT:
        raise TypeError(f"Column {name!r}: {_CONVERSION_HINT[kind]}.")
    if kind == "complex":
        raise ValueError(f"Complex data not supported: column {name!r} is complex.")
    examples: dict[str, object] = {}
    for value in column.dropna().head(10_000):
        examples.setdefault(type(value).__name__, value)
    shown = ", ".join(f"{t} (e.g. {v!r})" for t, v in list(examples.items())[:4])
    what = "mixes values of types" if len(examples) > 1 else "holds values of type"
    raise TypeError(
        f"Column {name!r} {what} {shown}. Each column of the X argument must be "
        "all strings or all numbers: convert it with .astype(str) to treat it as "
        "categorical (or list it in categorical_features), or with "
        "pd.to_numeric(..., errors='coerce') to treat it as numeric."
    )


def _mask_from_spec(spec, feature_names, n: int) -> np.ndarray:
    """Boolean mask from names, indices or a mask (HistGradientBoosting's form)."""
    items = np.asarray(spec, dtype=object)
    if items.ndim != 1:
        raise ValueError(
            "categorical_features must be 'from_dtype', None, or a 1-D list of "
            f"column names, indices or booleans. Got an array of shape {items.shape}."
        )
    mask = np.zeros(n, dtype=bool)
    if items.size == 0:
        return mask
    if all(isinstance(s, bool | np.bool_) for s in items):
        if items.shape != (n,):
            raise ValueError(
                f"categorical_features as a boolean mask must have {n} entries, one "
                f"per column. Got {items.shape[0]}."
            )
        return items.astype(bool)
    if all(isinstance(s, Integral) and not isinstance(s, bool) for s in items):
        indices = items.astype(np.int64)
        bad = indices[(indices < 0) | (indices >= n)]
        if bad.size:
            raise ValueError(
                f"categorical_features holds indices out of range for {n} columns: "
                f"{bad.tolist()}."
            )
        mask[indices] = True
        return mask
    if not all(isinstance(s, str) for s in items):
        raise ValueError(
            "categorical_features must hold only column names (str), only indices "
            f"(int) or a boolean mask. Got {items.tolist()!r}."
        )
    if feature_names is None:
        raise ValueError(
            "categorical_features holds column names, but X has no string column "
            "names (it is an array, or its columns are not all strings). Pass "
            "column indices or a boolean mask instead."
        )
    names = [str(c) for c in feature_names]
    for name in items.tolist():
        if name not in names:
            raise ValueError(
                f"categorical_features names column {name!r}, which is not in X."
                + did_you_mean(name, names)
            )
        mask[names.index(name)] = True
    return mask


# -- numeric columns -------------------------------------------------------------
def _numeric_block(
    frame: pd.DataFrame, columns: np.ndarray, kinds: list[str] | None = None
) -> np.ndarray:
    """Numeric columns as float64 (NaN for missing); inf is an error.

    ``kinds`` are the column kinds when fitting (already checked); at predict
    time they are recomputed, since dtypes may drift between fit and predict.
    """
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for k, j in enumerate(columns):
        column, name = frame.iloc[:, j], frame.columns[j]
        kind = _column_kind(column) if kinds is None else kinds[j]
        values[:, k] = _numeric_values(column, name, kind)
    infinite = np.isinf(values).any(axis=0)
    if infinite.any():
        bad = [frame.columns[columns[k]] for k in np.flatnonzero(infinite)]
        raise ValueError(
            f"Input X contains infinity in column(s) {format_columns(bad)}. Replace "
            "it with NaN (treated as missing) or a finite value."
        )
    return values


def _numeric_values(column: pd.Series, name, kind: str) -> np.ndarray:
    """Values of a numeric column as float64, NaN for every kind of missing."""
    if kind == "categorical" and isinstance(column.dtype, pd.CategoricalDtype):
        if pd.api.types.is_numeric_dtype(column.cat.categories.dtype):
            kind = "numeric"  # numbers stored as a category dtype
    if kind == "categorical" and not column.notna().any():
        kind = "numeric"  # only missing values, whatever the dtype
    if kind == "categorical":
        example = column.dropna().iloc[0]
        raise ValueError(
            f"Column {name!r} was numeric in fit but holds strings or categories now "
            f"(e.g. {example!r}). Pass numbers, with NaN for missing values."
        )
    _check_numeric_kind(column, name, kind)
    try:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:  # e.g. an object column of Fractions
        raise TypeError(
            f"Column {name!r} holds values that cannot be converted to float: {exc}"
        ) from None


def _to_float32(values: np.ndarray, frame: pd.DataFrame, columns) -> np.ndarray:
    """Cast the scaled columns to float32, refusing values that overflow."""
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(values, dtype=np.float32)
    overflow = np.isinf(out).any(axis=0)
    if overflow.any():
        bad = [frame.columns[columns[k]] for k in np.flatnonzero(overflow)]
        raise ValueError(
            f"Column(s) {format_columns(bad)} hold values too large for float32 "
            "(above 3.4e38 in absolute value) after scaling. Rescale them, or use "
            "numeric_transform='quantile'."
        )
    return out


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
