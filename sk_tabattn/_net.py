"""The skorch nets held as ``net_``: per-sample weighted losses on dict batches."""

from __future__ import annotations

import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor


class _WeightedLossMixin:
    """Read ``sample_weight`` from the batch's input dict and weigh the loss.

    The criterion is built with ``reduction="none"``; weights were normalised
    to mean 1 over the training rows, so unit weights give the plain mean.
    """

    def infer(self, x, **fit_params):
        if isinstance(x, dict) and "sample_weight" in x:
            x = {k: v for k, v in x.items() if k != "sample_weight"}
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = y_true.to(y_pred.device)
        loss = self.criterion_(y_pred, y_true)
        if isinstance(X, dict) and "sample_weight" in X:
            weight = X["sample_weight"].to(loss.device)
            loss = loss * weight.view(-1, *([1] * (loss.dim() - 1)))
        return loss.mean()


class TabularNetClassifier(_WeightedLossMixin, NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` with sample weights in the input dict."""


class TabularNetRegressor(_WeightedLossMixin, NeuralNetRegressor):
    """skorch ``NeuralNetRegressor`` with sample weights in the input dict."""

    def infer(self, x, **fit_params):
        out = super().infer(x, **fit_params)
        return out if out.dim() == 2 else out.unsqueeze(-1)


def module_is_finite(module: torch.nn.Module) -> bool:
    """Whether every parameter and buffer of ``module`` is finite."""
    return all(
        bool(torch.isfinite(t).all())
        for t in (*module.parameters(), *module.buffers())
        if t.is_floating_point()
    )
