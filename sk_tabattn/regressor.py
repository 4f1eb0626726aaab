"""AttentionCNNRegressor: target scaling and its inverse, 1-D and 2-D y."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils.validation import _check_y

from . import _docstrings
from ._base import _BaseAttentionCNN
from ._net import TabularNetRegressor
from ._validation import _fit_context


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
        y = _check_y(y, multi_output=True, y_numeric=True, estimator=self)
        self._y_is_1d = y.ndim == 1
        y2 = y.reshape(len(y), -1).astype(np.float64)
        self._target_mean = y2.mean(axis=0)
        std = y2.std(axis=0)
        self._target_scale = np.where(std > 0, std, 1.0)
        return ((y2 - self._target_mean) / self._target_scale).astype(np.float32)

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
        out = self._forward(X) * self._target_scale + self._target_mean
        return out.ravel() if self._y_is_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
