"""The models of the quality benchmark: ours and the tools a user would pick instead.

All run with default settings apart from what a user must add for them to
work on a mixed table:

- ``HistGB``: ``HistGradientBoosting*`` as shipped (categorical columns from
  the pandas ``category`` dtype, NaN handled natively).
- ``sklearn MLP``, ``LogReg/Ridge`` and ``skorch MLP``: median imputation and
  standard scaling of numeric columns, one-hot encoding of categorical ones
  (``handle_unknown="ignore"``, NaN as its own category). Regression targets
  are standardised for the two MLPs (``TransformedTargetRegressor``), as
  their losses are scale-sensitive; Ridge does not need it.
- ``skorch MLP``: a plain 2 × 256 ReLU MLP (dropout 0.1) in skorch's
  ``NeuralNetClassifier``/``NeuralNetRegressor`` with skorch's default
  DataLoader path, cross-entropy (or MSE) loss, Adam (lr 1e-3), batch size
  128, up to 100 epochs with skorch's
  ``EarlyStopping(patience=10, load_best=True)`` on a 10% split.
"""

from __future__ import annotations

import common  # noqa: F401  (puts the repository on sys.path)
import numpy as np
import torch
from sklearn.compose import (
    ColumnTransformer,
    TransformedTargetRegressor,
    make_column_selector,
)
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor

OURS = "sk_tabattn"


def ours_variant_name(params: dict) -> str:
    """``sk_tabattn (key=value, ...)``: our estimator with some non-default params."""
    return f"{OURS} (" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"


def one_hot_and_scale() -> ColumnTransformer:
    """Median-impute + scale numeric columns, one-hot the ``category`` columns."""
    return ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                make_column_selector(dtype_exclude="category"),
            ),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                make_column_selector(dtype_include="category"),
            ),
        ]
    )


def _to_float32(X):
    return np.asarray(X, dtype=np.float32)


class MLP(nn.Module):
    """Plain MLP: ``n_hidden`` ReLU layers of width ``width``, dropout."""

    def __init__(
        self, n_in: int = 1, n_out: int = 1, width: int = 256, n_hidden: int = 2
    ):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_hidden):
            layers += [
                nn.Linear(n_in if i == 0 else width, width),
                nn.ReLU(),
                nn.Dropout(0.1),
            ]
        layers.append(nn.Linear(width, n_out))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)


class _SizedNetMixin:
    """Set the MLP's input (and output) width from the data at ``fit``."""

    def fit(self, X, y, **fit_params):
        params = {"module__n_in": X.shape[1]}
        if isinstance(self, NeuralNetClassifier):
            params["module__n_out"] = len(np.unique(y))
        self.set_params(**params)
        return super().fit(X, y, **fit_params)


class SkorchMLPClassifier(_SizedNetMixin, NeuralNetClassifier):
    pass


class SkorchMLPRegressor(_SizedNetMixin, NeuralNetRegressor):
    """skorch wants float32 2-D targets; sklearn gives float64 1-D."""

    def fit(self, X, y, **fit_params):
        return super().fit(
            X, np.asarray(y, dtype=np.float32).reshape(len(y), -1), **fit_params
        )

    def predict(self, X):
        return super().predict(X).ravel()


def _skorch_params(seed: int) -> dict:
    # skorch has no random_state: quality.py seeds torch before every fit.
    return {
        "module": MLP,
        "optimizer": torch.optim.Adam,
        "lr": 1e-3,
        "batch_size": 128,
        "max_epochs": 100,
        "train_split": ValidSplit(0.1, random_state=seed),
        "callbacks": [EarlyStopping(patience=10, load_best=True)],
        "verbose": 0,
    }


def classifiers(seed: int, variants: list[dict]) -> dict:
    """Name -> unfitted classifier."""
    models = {
        OURS: AttentionCNNClassifier(random_state=seed),
        "HistGB": HistGradientBoostingClassifier(random_state=seed),
        "sklearn MLP": make_pipeline(
            one_hot_and_scale(), MLPClassifier(random_state=seed)
        ),
        "LogReg/Ridge": make_pipeline(
            one_hot_and_scale(), LogisticRegression(max_iter=1000)
        ),
        "skorch MLP": make_pipeline(
            one_hot_and_scale(),
            FunctionTransformer(_to_float32),
            SkorchMLPClassifier(criterion=nn.CrossEntropyLoss, **_skorch_params(seed)),
        ),
    }
    for params in variants:
        models[ours_variant_name(params)] = AttentionCNNClassifier(
            random_state=seed, **params
        )
    return models


def _scaled_target(regressor):
    return TransformedTargetRegressor(regressor=regressor, transformer=StandardScaler())


def regressors(seed: int, variants: list[dict]) -> dict:
    """Name -> unfitted regressor."""
    models = {
        OURS: AttentionCNNRegressor(random_state=seed),
        "HistGB": HistGradientBoostingRegressor(random_state=seed),
        "sklearn MLP": _scaled_target(
            make_pipeline(one_hot_and_scale(), MLPRegressor(random_state=seed))
        ),
        "LogReg/Ridge": make_pipeline(one_hot_and_scale(), Ridge()),
        "skorch MLP": _scaled_target(
            make_pipeline(
                one_hot_and_scale(),
                FunctionTransformer(_to_float32),
                SkorchMLPRegressor(**_skorch_params(seed)),
            )
        ),
    }
    for params in variants:
        models[ours_variant_name(params)] = AttentionCNNRegressor(
            random_state=seed, **params
        )
    return models


def models_for(task: str, seed: int, variants: list[dict]) -> dict:
    return (classifiers if task == "classification" else regressors)(seed, variants)


def set_max_epochs(model, max_epochs: int):
    """Cap the epochs of the neural models (for ``--quick`` runs)."""
    params = model.get_params()
    for key in params:
        if key.endswith("max_epochs"):
            model.set_params(**{key: max_epochs})
        if key.endswith("max_iter") and "mlp" in key:
            model.set_params(**{key: max_epochs})
    return model
