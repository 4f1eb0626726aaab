"""The skorch nets held as ``net_``: per-sample weighted losses on dict batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.utils import to_tensor

if TYPE_CHECKING:  # the mixin's methods call into skorch's NeuralNet
    from skorch import NeuralNet as _NetBase
else:
    _NetBase = object


class _CompiledForward:
    """Holds the ``torch.compile``-d module outside skorch's module registry.

    Set as a net attribute, an ``nn.Module`` would be registered by skorch and
    its (shared) parameters handed to the optimizer a second time.
    """

    def __init__(self, module: Callable[..., Any]):
        self.module = module


@contextmanager
def float32_default() -> Iterator[None]:
    """Make float32 torch's default dtype for the block, then restore it.

    The network is float32 whatever a caller set with
    ``torch.set_default_dtype``: its parameters would otherwise follow the
    caller's default (a float64 network that trains at half speed and meets
    float32 inputs and explanations). The default is process-wide, so it is
    touched only when it is not float32 already.
    """
    previous = torch.get_default_dtype()
    if previous == torch.float32:
        yield
        return
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


class _WeightedLossMixin(_NetBase):
    """Read ``sample_weight`` from the batch's input dict and weigh the loss.

    The criterion is built with ``reduction="none"``; weights were normalised
    to mean 1 over the training rows, so unit weights give the plain mean.

    With ``compile_training`` set (by the estimator, before ``fit``), full
    training batches run through ``torch.compile(module_)``; the last, shorter
    batch of an epoch, validation and predict stay eager, so the compiled graph
    sees one shape and one mode and compiles once. ``module_`` itself stays the
    plain module (its state dict, pickling and ``explain`` are unchanged); the
    compiled wrapper shares its parameters and is not pickled.
    """

    compile_training = False

    def initialize_module(self):
        with float32_default():
            super().initialize_module()
        self._compiled_forward = (
            _CompiledForward(torch.compile(self.module_, dynamic=False))
            if self.compile_training
            else None
        )
        return self

    def infer(self, x, **fit_params):
        if isinstance(x, dict) and "sample_weight" in x:
            x = {k: v for k, v in x.items() if k != "sample_weight"}
        compiled = getattr(self, "_compiled_forward", None)
        if (
            compiled is not None
            and self.module_.training
            and isinstance(x, dict)
            and len(next(iter(x.values()))) == self.batch_size
        ):
            x = to_tensor(x, device=self.device)
            return compiled.module(**x, **fit_params)
        return super().infer(x, **fit_params)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_compiled_forward", None)
        return state

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
