"""AttentionCNNClassifier: labels <-> classes_, predict_proba."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import torch
from scipy.special import logsumexp
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from . import _docstrings
from ._base import _BaseAttentionCNN
from ._net import TabularNetClassifier
from ._validation import Interval, StrOptions, _fit_context


class AttentionCNNClassifier(ClassifierMixin, _BaseAttentionCNN):  # noqa: D101
    __doc__ = f"""Attention + 1D-CNN classifier for tables.

    Each column becomes a token; residual 1D convolutions and an attention
    block (chosen by name) mix the tokens; a pooled summary goes through an
    MLP head. Trained with skorch (AdamW, warm-up and cosine schedule, early
    stopping that restores the best epoch). Takes DataFrames with numeric,
    categorical and missing values directly.

    Parameters
    ----------
{_docstrings.PARAMETERS}    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, multiplied with ``sample_weight``;
        ``"balanced"`` weighs classes inversely to their frequency.
    label_smoothing : float, default=0.0
        Share of each target's probability spread evenly over all classes in
        the cross-entropy loss (:class:`torch.nn.CrossEntropyLoss`), which
        discourages over-confident outputs. The validation loss of early
        stopping is the smoothed one too.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
{_docstrings.ATTRIBUTES}
    See Also
    --------
    AttentionCNNRegressor : The same network for regression.
    TabularEncoder : How the columns are encoded.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_tabattn import AttentionCNNClassifier
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = AttentionCNNClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> clf.predict_proba(X.iloc[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        **_BaseAttentionCNN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
    }
    _added_parameters: dict = {
        **_BaseAttentionCNN._added_parameters,
        "label_smoothing": 0.0,
    }
    _net_class = TabularNetClassifier
    _criterion = torch.nn.CrossEntropyLoss

    def __init__(
        self,
        *,
        attention="self",
        n_heads=2,
        attention_position="after",
        attention_dim=16,
        d_token=32,
        n_blocks=2,
        kernel_size=3,
        dropout=0.1,
        activation="hardswish",
        pooling="attention",
        feature_readout=True,
        streams=None,
        fusion="softmax",
        categorical_features="from_dtype",
        numeric_transform="quantile",
        numeric_embedding="linear",
        min_frequency=5,
        max_categories=512,
        lr=3e-3,
        weight_decay=1e-4,
        lr_schedule="cosine",
        average_weights=True,
        batch_size="auto",
        max_epochs=100,
        early_stopping=True,
        validation_fraction=0.1,
        patience=10,
        warm_start=False,
        random_state=None,
        device="cpu",
        compile=False,
        verbose=0,
        callbacks=None,
        class_weight=None,
        label_smoothing=0.0,
    ):
        super().__init__(
            attention=attention,
            n_heads=n_heads,
            attention_position=attention_position,
            attention_dim=attention_dim,
            d_token=d_token,
            n_blocks=n_blocks,
            kernel_size=kernel_size,
            dropout=dropout,
            activation=activation,
            pooling=pooling,
            feature_readout=feature_readout,
            streams=streams,
            fusion=fusion,
            categorical_features=categorical_features,
            numeric_transform=numeric_transform,
            numeric_embedding=numeric_embedding,
            min_frequency=min_frequency,
            max_categories=max_categories,
            lr=lr,
            weight_decay=weight_decay,
            lr_schedule=lr_schedule,
            average_weights=average_weights,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            patience=patience,
            warm_start=warm_start,
            random_state=random_state,
            device=device,
            compile=compile,
            verbose=verbose,
            callbacks=callbacks,
        )
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            Training table; numeric, categorical and missing values allowed.
        y : array-like of shape (n_samples,)
            Class labels (str, int, bool or categorical).
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weights of the rows in the loss.

        Returns
        -------
        self : AttentionCNNClassifier
            The fitted classifier.
        """
        return self._fit(X, y, sample_weight)

    def _prepare_targets(self, y) -> np.ndarray:
        y = column_or_1d(_labels_as_numpy(y), warn=True)
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: "
                f"{self.classes_.tolist()[0]!r}."
            )
        return self._label_encoder.transform(y).astype(np.int64)

    def _warm_start_targets(self, y) -> np.ndarray:
        y = column_or_1d(_labels_as_numpy(y), warn=True)
        check_classification_targets(y)
        classes = LabelEncoder().fit(y).classes_
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True goes on training the fitted network, whose "
                f"outputs are the classes {self.classes_.tolist()}, but y has the "
                f"classes {classes.tolist()}. Pass y with the same classes, or "
                "set warm_start=False to fit a new network."
            )
        return self._label_encoder.transform(y).astype(np.int64)

    def _n_network_outputs(self, y_enc: np.ndarray) -> int:
        return len(self.classes_)

    def _net_params(self) -> dict:
        return {"classes": list(range(len(self.classes_)))}

    def _criterion_params(self) -> dict:
        return {"label_smoothing": self.label_smoothing}

    def _stratify(self, y_enc: np.ndarray) -> np.ndarray:
        return y_enc

    def _row_weights(self, y_enc: np.ndarray, sample_weight):
        if self.class_weight is None:
            return sample_weight
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            bad = {
                k: w
                for k, w in class_weight.items()
                if not (isinstance(w, Real) and 0 <= float(w) < np.inf)
            }
            if bad:
                raise ValueError(
                    f"class_weight values must be finite and non-negative numbers. "
                    f"Got {bad}."
                )
            unknown = [k for k in class_weight if k not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight has keys {unknown} that are not classes of y; "
                    f"the classes are {self.classes_.tolist()}."
                )
            class_weight = {
                int(self._label_encoder.transform([k])[0]): w
                for k, w in class_weight.items()
            }
        weights = compute_sample_weight(class_weight, y_enc)
        return weights if sample_weight is None else weights * sample_weight

    @staticmethod
    def _output_activation(out: torch.Tensor) -> torch.Tensor:
        return out.softmax(dim=-1)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the rows of ``X``.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            The table, with the columns seen in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        proba = self._forward(X)
        # The softmax ran in float32: its rows sum to 1 within ~1e-7, which
        # scikit-learn's log_loss (checking at float64 precision) warns about.
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of the class probabilities of the rows of ``X``.

        A log-softmax of the network's outputs, not the log of
        :meth:`predict_proba`: a probability too small for float32 (which
        ``predict_proba`` returns as 0) still has its finite logarithm.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            The table, with the columns seen in ``fit``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        log_proba = self._forward(X, activation=_log_softmax)
        # Normalised again in float64, as predict_proba's rows are.
        return log_proba - logsumexp(log_proba, axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Most probable class of each row of ``X``.

        Parameters
        ----------
        X : {DataFrame, array-like, sparse matrix} of shape (n_samples, n_features)
            The table, with the columns seen in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _log_softmax(out: torch.Tensor) -> torch.Tensor:
    return out.log_softmax(dim=-1)


def _labels_as_numpy(y):
    """Return the labels as a numpy array, refusing missing labels.

    pandas nullable and categorical labels (``Int64``, ``Float64``, ``boolean``,
    a ``category`` of numbers) take the numpy type of their values;
    ``None``/``NaN``/``pd.NA`` among the labels is an error that says where,
    instead of scikit-learn's "Unknown label type" or "Input y contains NaN".
    """
    dtype = getattr(y, "dtype", None)
    extension = isinstance(dtype, pd.api.extensions.ExtensionDtype)
    if isinstance(y, pd.DataFrame) or (dtype is None and hasattr(y, "toarray")):
        return y  # column_or_1d gives scikit-learn's error
    values = pd.Series(y).to_numpy(dtype=object) if extension else np.asarray(y)
    if values.dtype == object or values.dtype.kind == "f":
        missing = np.flatnonzero(pd.isna(values).ravel())
        if missing.size:
            raise ValueError(
                f"y has {missing.size} missing label(s) (None, NaN or pd.NA), the "
                f"first at row {missing[0]}. Drop those rows or give them a label."
            )
    if extension:
        # Int64 -> int64, Float64 -> float64, boolean or a category of bools ->
        # bool: scikit-learn calls an object array of numbers "unknown".
        return pd.Series(values, dtype=object).infer_objects().to_numpy()
    return values
