"""AttentionCNNRegressor: target scaling and its inverse, 1-D and 2-D y."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.base import RegressorMixin

from . import _docstrings
from ._base import _BaseAttentionCNN
from ._net import TabularNetRegressor
from ._validation import _check_y, _fit_context, _safe_indexing


class AttentionCNNRegressor(RegressorMixin, _BaseAttentionCNN):  # noqa: D101
    __doc__ = f"""Attention + 1D-CNN regressor for tables.

    The network of :class:`AttentionCNNClassifier`, trained on standardised
    targets (one or several outputs); predictions come back in the original
    scale.

    Parameters
    ----------
{_docstrings.PARAMETERS}
    Attributes
    ----------
{_docstrings.ATTRIBUTES}
    See Also
    --------
    AttentionCNNClassifier : The same network for classification.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sk_tabattn import AttentionCNNRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = AttentionCNNRegressor(max_epochs=3, random_state=0).fit(X, y)
    >>> reg.predict(X.iloc[:2]).shape
    (2,)
    """

    _net_class = TabularNetRegressor
    _criterion = torch.nn.MSELoss

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the regressor.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            Training table; numeric, categorical and missing values allowed.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; several columns train one multi-output model.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights of the rows in the loss.

        Returns
        -------
        self : AttentionCNNRegressor
            The fitted regressor.
        """
        return self._fit(X, y, sample_weight)

    def _prepare_targets(self, y) -> np.ndarray:
        y2 = _finite_float_targets(y, self)
        self._y_is_1d = y2.ndim == 1
        y2 = y2.reshape(len(y2), -1)
        # Each column over its largest magnitude first: the mean and variance
        # of targets near float64's limit (1e300, say) would overflow.
        peak = np.abs(y2).max(axis=0)
        peak = np.where(peak > 0, peak, 1.0)
        unit = y2 / peak
        unit_mean = unit.mean(axis=0)
        unit_std = unit.std(axis=0)
        self._target_mean = unit_mean * peak
        # A constant column keeps the scale 1 (its targets are all about 0).
        self._target_scale = np.where(unit_std > 0, unit_std * peak, 1.0)
        return ((unit - unit_mean) * (peak / self._target_scale)).astype(np.float32)

    def _warm_start_targets(self, y) -> np.ndarray:
        y2 = _finite_float_targets(y, self)
        n_targets = 1 if y2.ndim == 1 else y2.shape[1]
        if n_targets != self.n_outputs_:
            raise ValueError(
                "warm_start=True goes on training the fitted network, which "
                f"predicts {self.n_outputs_} target(s), but y has {n_targets}. "
                "Pass y with as many targets, or set warm_start=False to fit a "
                "new network."
            )
        self._y_is_1d = y2.ndim == 1
        # In the fitted scale: the network's outputs are read in it.
        with np.errstate(over="ignore"):  # refused just below
            scaled = (
                (y2.reshape(len(y2), -1) - self._target_mean) / self._target_scale
            ).astype(np.float32)
        if not np.isfinite(scaled).all():
            raise ValueError(
                "y reaches beyond float32's range in the scale of the targets the "
                "model was first fitted on; set warm_start=False to fit anew."
            )
        return scaled

    def _targets_of_rows(self, y, y_enc: np.ndarray, rows: np.ndarray) -> np.ndarray:
        # The mean and scale of the rows kept, not of all of y.
        return self._prepare_targets(_safe_indexing(y, rows))

    def _n_network_outputs(self, y_enc: np.ndarray) -> int:
        return y_enc.shape[1]

    def predict(self, X) -> np.ndarray:
        """Predicted targets of the rows of ``X``.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            The table, with the columns seen in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions in the scale of ``y``, float64.
        """
        with np.errstate(over="ignore"):  # refused just below
            out = self._forward(X) * self._target_scale + self._target_mean
        if not np.isfinite(out).all():
            raise FloatingPointError(
                f"{int((~np.isfinite(out)).any(axis=1).sum())} predictions lie beyond "
                "float64's range in the scale of y; rescale y (divide it by a power "
                "of ten, say) and refit."
            )
        return out.ravel() if self._y_is_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _finite_float_targets(y, estimator) -> np.ndarray:
    """Return ``y`` as float64, refusing values that are not finite numbers.

    ``_check_y`` tests finiteness before it turns an object array into floats
    (so ``None`` would reach the network as NaN) and leaves numpy string arrays
    as strings; here every value is checked after the conversion, and an error
    names the first bad value's row (and column).
    """
    try:
        checked = _check_y(y, multi_output=True, y_numeric=True, estimator=estimator)
        values = checked.astype(np.float64)
    except ValueError as exc:
        problem = _first_bad_target(y, type(estimator).__name__)
        if problem is None:
            raise
        raise ValueError(problem) from exc
    if not np.isfinite(values).all():
        problem = _first_bad_target(y, type(estimator).__name__)
        raise ValueError(problem or "y holds values that are not finite numbers.")
    return values


_FINE, _NOT_A_NUMBER, _MISSING = 0, 1, 2


def _first_bad_target(y, estimator_name: str) -> str | None:
    """Describe the first value of ``y`` that is not a finite number, or None."""
    if hasattr(y, "toarray"):
        return None  # sparse: scikit-learn's own message
    try:
        table = pd.DataFrame(y)
    except ValueError:
        return None  # more than 2 dimensions: scikit-learn's own message
    cells = table.to_numpy(dtype=object)
    problems = np.frompyfunc(_target_problem, 1, 1)(cells).astype(np.int8)
    for problem in (_NOT_A_NUMBER, _MISSING):
        bad = problems == problem
        if bad.any():
            row, col = np.argwhere(bad)[0]
            where = f"row {row}"
            if cells.shape[1] > 1:
                where += f" of column {table.columns[col]!r}"
            value = cells[row, col]
            if problem == _NOT_A_NUMBER:
                return (
                    f"{estimator_name} needs numeric targets, but y holds {value!r} "
                    f"at {where}. For class labels, use AttentionCNNClassifier."
                )
            return (
                f"y has {int(bad.sum())} missing or infinite value(s) (None, NaN, "
                f"pd.NA or inf), the first ({value!r}) at {where}. Drop those rows "
                "or fill them in."
            )
    return None


def _target_problem(value) -> int:
    """Classify one target value: fine, not a number, or missing/infinite."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return _MISSING
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _NOT_A_NUMBER
    return _FINE if np.isfinite(number) else _MISSING
