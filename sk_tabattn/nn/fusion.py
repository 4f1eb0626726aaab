"""Attention-weighted fusion of feature streams.

Each fusion merges ``n_streams`` pooled tensors of shape
``(batch_size, channels)`` into one of the same shape, and reports its
weights: ``(n_streams,)`` for the learned global weights, or
``(batch_size, n_streams, channels)`` for ``adaptive``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

FusionName = Literal["sum", "scalar", "softmax", "adaptive"]


class StreamFusion(nn.Module):
    """Merge stream representations by a weighted sum.

    Parameters
    ----------
    kind : {"sum", "scalar", "softmax", "adaptive"}
        ``"sum"``: plain sum. ``"scalar"``: one learnable weight per stream.
        ``"softmax"``: learnable weights normalised to sum to 1.
        ``"adaptive"``: per-sample, per-channel weights ``W_s(z_s)`` from a
        small MLP on each stream, normalised across streams by a softmax, so
        ``z = sum_s z_s * W_s(z_s)``.
    n_streams : int
        Number of streams.
    channels : int
        Width of each stream's representation.
    """

    def __init__(self, *, kind: str, n_streams: int, channels: int):
        super().__init__()
        if kind not in ("sum", "scalar", "softmax", "adaptive"):
            raise ValueError(
                "fusion must be one of 'sum', 'scalar', 'softmax', 'adaptive'. "
                f"Got {kind!r}."
            )
        self.kind = kind
        if kind == "scalar":
            self.weight = nn.Parameter(torch.ones(n_streams))
        elif kind == "softmax":
            self.logit = nn.Parameter(torch.zeros(n_streams))
        elif kind == "adaptive":
            self.scorers = nn.ModuleList(
                nn.Sequential(
                    nn.Linear(channels, channels),
                    nn.Tanh(),
                    nn.Linear(channels, channels),
                )
                for _ in range(n_streams)
            )

    def fuse(
        self, streams: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the fused ``(batch_size, channels)`` tensor and the weights."""
        stacked = torch.stack(streams, dim=1)  # [B, S, C]
        if self.kind == "sum":
            return stacked.sum(dim=1), None
        if self.kind == "adaptive":
            logits = torch.stack(
                [f(z) for f, z in zip(self.scorers, streams, strict=True)], dim=1
            )
            weights = logits.softmax(dim=1)  # [B, S, C]
            return (stacked * weights).sum(dim=1), weights
        weights = self.weight if self.kind == "scalar" else self.logit.softmax(dim=0)
        return torch.einsum("bsc,s->bc", stacked, weights), weights

    def forward(self, streams: list[torch.Tensor]) -> torch.Tensor:
        """Return the fused ``(batch_size, channels)`` tensor."""
        return self.fuse(streams)[0]
