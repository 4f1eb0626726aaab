"""TabularEncoder: a DataFrame or array into numeric and categorical arrays."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._columns import (
    check_category_kind,
    check_numeric_kind,
    coarse_float_dtype,
    column_kind,
    float_dtype,
    mask_from_spec,
    numeric_block,
    to_float32,
    to_frame,
)
from ._scaling import ConstantColumns, make_scaler
from ._validation import (
    Interval,
    SkTabAttnWarning,
    StrOptions,
    _check_feature_names_in,
    _fit_context,
    as_table,
    format_columns,
    validate_data,
)

#: How far from 0 a column passed as it is (``numeric_transform="none"``) may
#: reach before a warning: the tokens (``x * w + b``, ``w`` drawn within
#: +-1/sqrt(d_token)) and the learning rate assume values near unit scale.
_UNSCALED_LIMIT = 100.0


def _warn_if_unscaled(numeric: np.ndarray, names: pd.Index) -> None:
    """Warn about numeric columns passed unscaled that reach beyond +-100."""
    peaks = np.nanmax(np.abs(numeric), axis=0, initial=0.0)
    wide = np.flatnonzero(peaks > _UNSCALED_LIMIT)
    if len(wide) == 0:
        return
    warnings.warn(
        f"numeric_transform='none' passes the numeric columns as they are, but "
        f"{format_columns(names[wide])} reach beyond +-{_UNSCALED_LIMIT:g} (up to "
        f"{peaks[wide].max():.3g}); the network learns best from values near unit "
        "scale. Scale them first (e.g. StandardScaler in a ColumnTransformer), or "
        "use numeric_transform='quantile' (the default) or 'standard'.",
        SkTabAttnWarning,
        stacklevel=2,
    )


@dataclass
class EncodedTable:
    """The two inputs of the network.

    Attributes
    ----------
    x_num : ndarray of shape (n_samples, n_numeric), dtype float32
        Scaled numeric columns; NaN marks a missing value.
    x_cat : ndarray of shape (n_samples, n_categorical), dtype int64
        Category indices; 0 is missing (or unseen, where a column has no rare
        index).
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
      as a learned per-column "missing" token: no imputation needed. (The
      estimators start that token at the token of the column's median
      training value and learn a shift from there; in a column never missing
      in their training rows a missing value reads exactly as that median.)
    - **categorical** (pandas ``category``, ``object``/``str``/``string``
      holding strings, ``bool``/``boolean``): an index into the column's
      embedding table. 0 means missing. 1 to k are the k kept categories
      (most frequent first) and k + 1 is shared by the rare ones (seen fewer
      than ``min_frequency`` times, or beyond the ``max_categories`` most
      frequent). A category not seen in ``fit`` is not an error: it takes
      the rare index if the column has one, else 0. Values are matched by
      value, so a column that was ``category`` in ``fit`` may arrive as
      ``object`` or ``str``, or with its categories in another order, and is
      encoded identically; float categories match across ``float32`` and
      ``float64`` (at the coarser precision, unless that would merge
      categories of ``fit``). Values of a kind that matches none of the
      categories (numbers where ``fit`` saw text, booleans where it saw text,
      and the reverse) raise a ``ValueError`` naming the column. pyarrow's
      ``dictionary`` type counts as ``category``.
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
        1,000 quantiles; a value tied at the column's smallest or largest
        quantile, such as the zeros of a zero-inflated column, takes the middle
        of its quantile range, where sklearn's transform clips it to -5.2 or
        +5.2), ``"standard"``: zero mean, unit variance, ``"none"``: as given
        (for columns already scaled; ``fit`` warns when one reaches beyond
        +-100).
        Statistics ignore missing values; a constant or all-missing column
        (also pyarrow's ``null`` type) is accepted and carries no signal, at
        predict time too: every observed value of a column constant in
        ``fit`` is encoded as that constant, and every value of a column all
        missing in ``fit`` as missing (its token's weight learnt nothing).
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
        # Feature names are validated on a stand-in, and copied at the end.
        names = _NameHolder()
        validate_data(names, X, reset=True, skip_check_array=True)
        frame = to_frame(X)
        kinds = [column_kind(frame.iloc[:, j]) for j in range(frame.shape[1])]
        feature_names = getattr(names, "feature_names_in_", None)
        is_cat = self._categorical_mask(frame, kinds, feature_names)
        numeric_columns = np.flatnonzero(~is_cat)
        categorical_columns = np.flatnonzero(is_cat)
        numeric = numeric_block(frame, numeric_columns, kinds)
        if self.numeric_transform == "none":
            _warn_if_unscaled(numeric, frame.columns[numeric_columns])
        scaler = make_scaler(self.numeric_transform, numeric)
        constants = ConstantColumns(numeric)
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
        self._constants = constants
        self._lookups = [(cats, lookup) for cats, lookup, _ in lookups]
        self._category_floats = [
            float_dtype(frame.iloc[:, j]) for j in categorical_columns
        ]
        self.categories_ = [cats[:n_kept] for cats, _, n_kept in lookups]
        # Index 0 (missing/unknown), the kept ones, and one shared rare index.
        self.cardinalities_ = [
            n_kept + 1 + int(len(cats) > n_kept) for cats, _, n_kept in lookups
        ]
        # Encoders pickled before this was set keep sending unseen categories
        # to index 0, so that a shipped model predicts as it did.
        self._unseen_to_rare = True
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
            mask = mask_from_spec(spec, feature_names, n)
        for j in np.flatnonzero(~mask):
            if kinds[j] == "categorical":
                raise ValueError(
                    f"Column {frame.columns[j]!r} holds strings or categories but is "
                    "not in categorical_features. Add it there, or convert it to "
                    "numbers before fit."
                )
            check_numeric_kind(frame.iloc[:, j], frame.columns[j], kinds[j])
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
        frame = to_frame(X)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        # Encoders pickled before constant columns were pinned predict as they
        # did (they have no ``_constants``).
        constants = getattr(self, "_constants", None)
        empty = None if constants is None else constants.empty
        numeric = numeric_block(frame, self.numeric_columns_, empty=empty)
        if constants is not None:
            numeric = constants(numeric)
        x_num = to_float32(self._scaler(numeric), frame, self.numeric_columns_)
        x_cat = np.empty((len(frame), len(self.categorical_columns_)), dtype=np.int64)
        for k, (j, (cats, lookup)) in enumerate(
            zip(self.categorical_columns_, self._lookups, strict=True)
        ):
            column = frame.iloc[:, j]
            check_category_kind(column, cats, frame.columns[j])
            values = column.to_numpy(dtype=object)
            # Position -1 (missing, or not seen in fit) becomes index 0; unseen
            # ones then move to the rare index where there is one.
            position = self._positions(column, values, k, frame.columns[j])
            x_cat[:, k] = lookup[position + 1]
            self._send_unseen_to_rare(x_cat[:, k], values, position, k)
        return EncodedTable(x_num, x_cat)

    def _positions(
        self, column: pd.Series, values: np.ndarray, k: int, name
    ) -> np.ndarray:
        """Position of each value among column ``k``'s categories (-1: none)."""
        cats = self._lookups[k][0]
        # Encoders pickled before float precisions were kept count as float64.
        floats = getattr(self, "_category_floats", None)
        fitted = None if floats is None else floats[k]
        coarse = coarse_float_dtype(column, cats, fitted)
        if coarse is not None:  # float categories, another precision now
            with np.errstate(over="ignore"):
                now = column.to_numpy(dtype=coarse, na_value=np.nan)
                return pd.Index(cats.astype(coarse)).get_indexer(now)
        try:
            return pd.Index(cats, dtype=object).get_indexer(values)
        except TypeError as exc:  # e.g. lists or dicts as values
            raise TypeError(
                f"Column {name!r} is categorical but holds values that cannot be "
                f"looked up as categories ({exc}). Convert them with .astype(str)."
            ) from None

    def _send_unseen_to_rare(
        self, indices: np.ndarray, values: np.ndarray, position: np.ndarray, k: int
    ) -> None:
        """Give categories never seen in ``fit`` the column's rare index, if any.

        An unseen category is rarer than any rare one, and the rare embedding was
        trained, where index 0 learnt only from missing values (nothing at all
        in a column without them: new IDs would then move the predictions).
        This is scikit-learn's ``handle_unknown="infrequent_if_exist"``.
        """
        rare = self.cardinalities_[k] - 1
        if rare <= len(self.categories_[k]) or not getattr(
            self, "_unseen_to_rare", False
        ):
            return  # no rare index, or an encoder pickled before this rule
        unseen = np.flatnonzero(position < 0)
        if len(unseen):
            unseen = unseen[~pd.isna(values[unseen])]
            indices[unseen] = rare

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
