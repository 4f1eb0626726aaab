"""AttentionCNN: tokenizer -> conv blocks -> attention -> pooling -> fusion -> head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import torch
from torch import nn

from .attention import ATTENTION_BLOCKS
from .blocks import (
    AttentionPool,
    ConvBlock,
    FeatureReadout,
    ResidualAttention,
    make_activation,
    make_pooling,
    pool_and_read,
)
from .dropout import Dropout
from .fusion import StreamFusion
from .tokenizer import FeatureTokenizer

PositionName = Literal["before", "after", "each"]


def _without_readout_if_missing(state: dict, name: str) -> dict:
    """Pickled state of a module saved before the feature readout existed.

    Such modules have no ``name``: it becomes None, as a module built with
    ``feature_readout=False`` holds it (a None submodule is a plain
    attribute; a real one lives in ``_modules`` and is left alone).
    """
    if name not in state["_modules"]:
        state.setdefault(name, None)
    return state


class StreamBranch(nn.Module):
    """Conv blocks with attention, then pooling, over one stream's tokens.

    Parameters
    ----------
    positions : sequence of int
        Token positions of this stream.
    attention, attention_position, n_heads, attention_dim, d_token, n_blocks,
    kernel_size, dropout, activation, pooling, feature_readout
        As in :class:`AttentionCNN`.
    """

    positions: torch.Tensor

    def __init__(
        self,
        *,
        positions: Sequence[int],
        attention: str,
        attention_position: str,
        n_heads: int,
        attention_dim: int,
        d_token: int,
        n_blocks: int,
        kernel_size: int,
        dropout: float,
        activation: str,
        pooling: str,
        feature_readout: bool,
    ):
        super().__init__()
        positions = list(positions)
        self.register_buffer("positions", torch.as_tensor(positions), persistent=False)
        self.in_order = positions == list(range(len(positions)))
        self.attention_position = attention_position
        self.convs = nn.ModuleList(
            ConvBlock(
                channels=d_token,
                kernel_size=kernel_size,
                dropout=dropout,
                activation=activation,
            )
            for _ in range(n_blocks)
        )
        n_attention = n_blocks if attention_position == "each" else 1
        if attention == "none":
            n_attention = 0
        block_cls = ATTENTION_BLOCKS[attention]
        # Dropout acts on the residual branch; none on the attention weights,
        # which would draw batch * heads * n_features**2 random numbers a step.
        self.attentions = nn.ModuleList(
            ResidualAttention(
                block_cls(
                    channels=d_token,
                    n_heads=n_heads,
                    attention_dim=attention_dim,
                    dropout=0.0,
                ),
                dropout=dropout,
            )
            for _ in range(n_attention)
        )
        self.pool = make_pooling(pooling, d_token)
        self.readout = (
            FeatureReadout(channels=d_token, n_positions=len(positions))
            if feature_readout
            else None
        )

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(_without_readout_if_missing(state, "readout"))

    @property
    def readout_features(self) -> int:
        """Numbers the readout gives per row (0 without a readout)."""
        return 0 if self.readout is None else self.readout.out_features

    def branch(
        self, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
        """Return the pooled ``(batch, d_token)`` tensor, the readout, the weights.

        ``tokens`` is ``(batch_size, n_features, d_token)`` (all streams); the
        readout is ``(batch_size, readout.out_features)``, or None without one.
        """
        if self.positions.numel() != tokens.shape[1] or not self.in_order:
            tokens = tokens.index_select(1, self.positions)
        # [B, C, L], position-major in memory: the blocks keep this layout,
        # so attention's [B, L, C] view is free (see blocks.is_position_major).
        h = tokens.contiguous().transpose(1, 2)
        weights: list[torch.Tensor | None] = []
        attentions = iter(cast("Sequence[ResidualAttention]", self.attentions))

        def attend(h: torch.Tensor) -> torch.Tensor:
            block = next(attentions, None)
            if block is None:
                return h
            h, w = block.attend(h)
            weights.append(w)
            return h

        if self.attention_position == "before":
            h = attend(h)
        for conv in self.convs:
            h = conv(h)
            if self.attention_position == "each":
                h = attend(h)
        if self.attention_position == "after":
            h = attend(h)
        weights_out = {"attention": weights}
        reader = self.readout
        if reader is None or not self._can_share_norm():
            z, pool_weights = self.pool.pool(h)
            readout = None if reader is None else reader(h)
        else:
            z, pool_weights, readout = pool_and_read(h, self.pool, reader)
        return z, readout, {**weights_out, "pooling": pool_weights}

    def _can_share_norm(self) -> bool:
        """Whether the pooling and readout may share a norm: a readout, one eps.

        Shared, they run as :func:`~sk_tabattn.nn.blocks.pool_and_read`.
        """
        if self.readout is None:
            return False
        return (
            not isinstance(self.pool, AttentionPool)
            or self.pool.norm.eps == self.readout.norm.eps
        )


class AttentionCNN(nn.Module):
    """Attention + 1D-CNN network for tabular data.

    The features are tokens along a 1D "sequence"; conv blocks mix
    neighbouring tokens, attention blocks mix any tokens (or channels, or
    rows), and a pooled summary of each feature stream goes through fusion
    and an MLP head.

    Parameters
    ----------
    n_numeric : int
        Number of numeric input columns.
    cardinalities : sequence of int
        Embedding-table size of each categorical column (index 0 included).
    n_outputs : int
        Width of the output (number of classes, or of regression targets).
    streams : sequence of sequence of int or None, default=None
        Token positions of each feature stream; ``None`` means one stream of
        all features. Numeric tokens come first, then categorical ones.
    attention : str, default="self"
        Name of a block in ``ATTENTION_BLOCKS``.
    attention_position : {"before", "after", "each"}, default="after"
        Attention on the raw tokens, after the last conv block, or after each.
    n_heads : int, default=2
        Number of heads of ``multihead`` and ``mha``.
    attention_dim : int, default=16
        Width of queries and keys per head.
    d_token : int, default=32
        Width of the tokens, and channels of the conv blocks.
    n_blocks : int, default=2
        Number of conv blocks.
    kernel_size : int, default=3
        Convolution window, in feature positions.
    dropout : float, default=0.1
        Dropout rate of the residual branches and the head.
    activation : {"hardswish", "relu", "gelu"}, default="hardswish"
        Activation of the conv blocks and of the head's hidden layer.
    pooling : {"mean", "attention"}, default="attention"
        How positions are pooled into one vector per stream.
    fusion : {"sum", "scalar", "softmax", "adaptive"}, default="softmax"
        How streams are merged (ignored with one stream).
    numeric_embedding : {"linear", "periodic"}, default="linear"
        How numeric values become tokens (see :class:`FeatureTokenizer`).
    feature_readout : bool, default=True
        Whether the head also reads ``blocks.READOUT_WIDTH`` learned numbers per
        feature position of the last block (see :class:`FeatureReadout`),
        added to its hidden layer beside the pooled vector.
    numeric_fill : sequence of float or None, default=None
        Each numeric column's typical encoded value (the estimators pass the
        median of the training rows), from which its missing token starts (see
        :class:`FeatureTokenizer`); None: 0.

    Notes
    -----
    **Shape**: ``x_num`` is ``(batch_size, n_numeric)`` float32 (NaN allowed),
    ``x_cat`` is ``(batch_size, n_categorical)`` int64; the output is
    ``(batch_size, n_outputs)``.
    """

    def __init__(
        self,
        *,
        n_numeric: int,
        cardinalities: Sequence[int],
        n_outputs: int,
        streams: Sequence[Sequence[int]] | None = None,
        attention: str = "self",
        attention_position: str = "after",
        n_heads: int = 2,
        attention_dim: int = 16,
        d_token: int = 32,
        n_blocks: int = 2,
        kernel_size: int = 3,
        dropout: float = 0.1,
        activation: str = "hardswish",
        pooling: str = "attention",
        fusion: str = "softmax",
        numeric_embedding: str = "linear",
        feature_readout: bool = True,
        numeric_fill: Sequence[float] | None = None,
    ):
        super().__init__()
        n_features = n_numeric + len(cardinalities)
        if streams is None:
            streams = [range(n_features)]
        self.tokenizer = FeatureTokenizer(
            n_numeric=n_numeric,
            cardinalities=cardinalities,
            d_token=d_token,
            numeric_embedding=numeric_embedding,
            numeric_fill=numeric_fill,
        )
        branches = [
            StreamBranch(
                positions=positions,
                attention=attention,
                attention_position=attention_position,
                n_heads=n_heads,
                attention_dim=attention_dim,
                d_token=d_token,
                n_blocks=n_blocks,
                kernel_size=kernel_size,
                dropout=dropout,
                activation=activation,
                pooling=pooling,
                feature_readout=feature_readout,
            )
            for positions in streams
        ]
        self.branches = nn.ModuleList(branches)
        self.fusion = (
            StreamFusion(kind=fusion, n_streams=len(streams), channels=d_token)
            if len(streams) > 1
            else None
        )
        self.head = nn.Sequential(
            nn.LayerNorm(d_token),
            nn.Linear(d_token, 2 * d_token),
            make_activation(activation),
            Dropout(dropout),
            nn.Linear(2 * d_token, n_outputs),
        )
        # The readouts of all streams enter the head's hidden layer.
        self.readout_proj = (
            nn.Linear(
                sum(b.readout_features for b in branches),
                2 * d_token,
                bias=False,
            )
            if feature_readout
            else None
        )

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(_without_readout_if_missing(state, "readout_proj"))

    def explain_forward(
        self, x_num: torch.Tensor, x_cat: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        """Return the output and every weight the network computed.

        The weights are ``{"streams": [per-stream dict of "attention" and
        "pooling" weights], "fusion": weights or None}``.
        """
        tokens = self.tokenizer(x_num, x_cat)
        branches = cast("Sequence[StreamBranch]", self.branches)
        proj = self.readout_proj
        pooled, readouts, stream_weights = zip(
            *(b.branch(tokens) for b in branches), strict=True
        )
        if self.fusion is None:
            z, fusion_weights = pooled[0], None
        else:
            z, fusion_weights = self.fusion.fuse(list(pooled))
        if proj is None:
            out = self.head(z)
        else:
            norm, hidden, *rest = self.head
            if len(readouts) == 1:
                projected = proj(readouts[0])
            else:
                projected = proj(torch.cat(readouts, dim=1))
            out = hidden(norm(z)) + projected
            for layer in rest:
                out = layer(out)
        return out, {"streams": list(stream_weights), "fusion": fusion_weights}

    def forward(self, x_num: torch.Tensor, x_cat: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, n_outputs)``."""
        return self.explain_forward(x_num, x_cat)[0]
