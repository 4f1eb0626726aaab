"""Convolution blocks, the pre-norm residual wrapper of attention, and pooling.

All modules here work on ``(batch_size, channels, n_positions)`` tensors.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .attention import AttentionBlock

PoolingName = Literal["mean", "attention"]

#: Numbers the feature readout reads per position.
READOUT_WIDTH = 4


class SampleNorm(nn.GroupNorm):
    """Normalise each sample over all its channels and positions (one group).

    Like LayerNorm it does not depend on the other rows of the batch, so a
    one-row batch trains and predicts like any other; unlike a per-position
    LayerNorm it works on the ``[B, C, L]`` layout directly, with no
    transposes (the MetaFormer/PoolFormer choice for conv features).

    Parameters
    ----------
    channels : int
        Number of channels.
    """

    def __init__(self, channels: int):
        super().__init__(1, channels)


class SpatialDropout(nn.Module):
    """Drop whole channels of a ``[B, C, L]`` tensor (SpatialDropout).

    The standard dropout of 1D CNNs: neighbouring positions of a channel are
    correlated, so dropping single entries regularises little; it also draws
    ``L`` times fewer random numbers.

    Parameters
    ----------
    p : float
        Probability of dropping a channel.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` with channels dropped (in training) and rescaled."""
        return F.dropout1d(x, self.p, self.training) if self.p else x


class ConvBlock(nn.Module):
    """Residual 1D convolution over the feature positions.

    ``h + Dropout(GELU(Norm(Conv1d(h))))`` with ``padding="same"``, so the
    number of positions and channels is kept.

    Parameters
    ----------
    channels : int
        Number of channels (input and output).
    kernel_size : int
        Width of the convolution window, in feature positions.
    dropout : float
        Dropout rate on the residual branch.
    """

    def __init__(self, *, channels: int, kernel_size: int, dropout: float):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding="same")
        self.norm = SampleNorm(channels)
        self.dropout = SpatialDropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, channels, n_positions)``."""
        return h + self.dropout(F.gelu(self.norm(self.conv(h))))


class ResidualAttention(nn.Module):
    """Pre-norm residual around an attention block: ``h + Dropout(Block(Norm(h)))``.

    Parameters
    ----------
    block : AttentionBlock
        The attention block.
    dropout : float
        Dropout rate on the residual branch.
    """

    def __init__(self, block: AttentionBlock, *, dropout: float):
        super().__init__()
        self.norm = SampleNorm(block.channels)
        self.block = block
        self.dropout = SpatialDropout(dropout)

    def attend(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the output and the block's weights."""
        out, weights = self.block.attend(self.norm(h))
        return h + self.dropout(out), weights

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, channels, n_positions)``."""
        return self.attend(h)[0]


class MeanPool(nn.Module):
    """Mean over positions: ``(batch, channels, n_positions) -> (batch, channels)``."""

    def pool(self, h: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Return the pooled tensor and no weights."""
        return h.mean(dim=-1), None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, channels)``."""
        return self.pool(h)[0]


class AttentionPool(nn.Module):
    """Learned attention pooling: a softmax over positions of a linear score.

    Parameters
    ----------
    channels : int
        Number of channels.
    """

    def __init__(self, *, channels: int):
        super().__init__()
        self.norm = SampleNorm(channels)
        self.score = nn.Conv1d(channels, 1, kernel_size=1)

    def pool(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(batch, channels)`` and weights ``(batch, n_positions)``."""
        # The 1x1 conv's product written out: oneDNN's convolution is slower
        # than a multiply-and-sum for a single output channel.
        w, b = self.score.weight, self.score.bias  # (1, channels, 1), (1,)
        weights = ((self.norm(h) * w).sum(dim=1) + b).softmax(dim=-1)
        return torch.bmm(h, weights.unsqueeze(-1)).squeeze(-1), weights

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, channels)``."""
        return self.pool(h)[0]


class FeatureReadout(nn.Module):
    """Learned linear summaries per position: ``(batch, C, L) -> (batch, width * L)``.

    Pooling averages the positions away, so the head cannot tell which
    feature holds what; this readout gives it ``width`` numbers per feature
    (per-position dot products with the normalised channels), so the head
    contains an MLP over the features, as a plain tabular MLP is.

    Parameters
    ----------
    channels : int
        Number of channels.
    n_positions : int
        Number of positions.
    width : int, default=READOUT_WIDTH
        Numbers read per position.
    """

    def __init__(self, *, channels: int, n_positions: int, width: int = READOUT_WIDTH):
        super().__init__()
        # No affine part: the readout weights scale every channel already.
        self.norm = nn.GroupNorm(1, channels, affine=False)
        self.weight = nn.Parameter(torch.empty(width, channels, n_positions))
        bound = channels**-0.5
        nn.init.uniform_(self.weight, -bound, bound)

    @property
    def out_features(self) -> int:
        """Numbers read per row: ``width * n_positions``."""
        return self.weight.numel() // self.weight.shape[-2]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, width * n_positions)``, one width after another."""
        # A module pickled when the readout read one number has a
        # (channels, n_positions) weight: the view reads it as width 1.
        weight = self.weight.view(-1, *self.weight.shape[-2:])
        h = self.norm(h)
        if torch.is_grad_enabled():
            out = torch.einsum("bcl,wcl->bwl", h, weight)
        else:
            # Without autograd the broadcast product is faster than einsum's
            # batched matmul over positions (whose batch slices are strided);
            # with it, its backward would hold two (batch, width, C, L) tensors.
            out = (h.unsqueeze(1) * weight).sum(dim=2)
        return out.flatten(1)


def make_pooling(name: str, channels: int) -> MeanPool | AttentionPool:
    """Build the pooling named ``name`` (``"mean"`` or ``"attention"``)."""
    if name == "mean":
        return MeanPool()
    if name == "attention":
        return AttentionPool(channels=channels)
    raise ValueError(f"pooling must be 'mean' or 'attention'. Got {name!r}.")
