"""The training callbacks sk_tabattn adds to skorch's: LR schedule, early stopping."""

from __future__ import annotations

import math

import torch
from skorch.callbacks import EarlyStopping, LRScheduler


class WarmupCosine:
    """Learning-rate factor: linear warm-up, then cosine decay (or constant).

    A picklable ``lr_lambda`` for :class:`torch.optim.lr_scheduler.LambdaLR`,
    stepped once per batch.

    Parameters
    ----------
    total_steps : int
        Number of optimizer steps of a full run (``max_epochs`` epochs).
    warmup_steps : int
        Steps of linear warm-up from ``1 / warmup_steps`` to 1.
    decay : bool, default=True
        Cosine decay to ``floor`` after the warm-up; constant 1 otherwise.
    floor : float, default=0.05
        Final factor of the cosine decay.

    Examples
    --------
    >>> f = WarmupCosine(total_steps=100, warmup_steps=10)
    >>> round(f(0), 2), round(f(9), 2), round(f(100), 2)
    (0.1, 1.0, 0.05)
    """

    def __init__(
        self,
        total_steps: int,
        warmup_steps: int,
        decay: bool = True,
        floor: float = 0.05,
    ):
        self.total_steps = max(total_steps, 1)
        self.warmup_steps = max(warmup_steps, 1)
        self.decay = decay
        self.floor = floor

    def __call__(self, step: int) -> float:
        """Return the learning-rate factor of optimizer step ``step``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if not self.decay:
            return 1.0
        span = max(self.total_steps - self.warmup_steps, 1)
        progress = min((step - self.warmup_steps) / span, 1.0)
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))


def lr_schedule_callback(
    kind: str, steps_per_epoch: int, max_epochs: int
) -> LRScheduler:
    """Return the skorch callback of schedule ``kind`` ("cosine", "constant")."""
    total = steps_per_epoch * max_epochs
    # Warm up over ~5% of the run, at least one epoch's worth when possible.
    warmup = min(max(total // 20, steps_per_epoch), max(total // 4, 1))
    return LRScheduler(
        policy=torch.optim.lr_scheduler.LambdaLR,
        lr_lambda=WarmupCosine(total, warmup, decay=kind == "cosine"),
        step_every="batch",
    )


def early_stopping_callback(patience: int) -> EarlyStopping:
    """Stop after ``patience`` epochs without a better validation loss.

    The weights of the best epoch are restored at the end of training.
    """
    return EarlyStopping(
        monitor="valid_loss", patience=patience, threshold=1e-4, load_best=True
    )
