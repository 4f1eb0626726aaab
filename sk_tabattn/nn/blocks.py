"""Convolution blocks, the pre-norm residual wrapper of attention, and pooling.

All modules here work on ``(batch_size, channels, n_positions)`` tensors. The
network hands them tensors of that shape laid out position-major in memory
(``tokens.transpose(1, 2)``, strides ``(L * C, 1, C)``), and the conv and
norm below keep that layout: attention's ``[B, L, C]`` view of it is then
contiguous, so no block copies between the two layouts (see
:func:`is_position_major`). A contiguous ``[B, C, L]`` input works too.
"""

from __future__ import annotations

from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from .attention import AttentionBlock
from .dropout import SpatialDropout

PoolingName = Literal["mean", "attention"]

#: The activations of the conv blocks and the head, by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "hardswish": nn.Hardswish,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
}

#: Numbers the feature readout reads per position.
READOUT_WIDTH = 4


def is_position_major(h: torch.Tensor) -> bool:
    """Whether ``h`` (``[B, C, L]``) is laid out as a contiguous ``[B, L, C]``."""
    return h.dim() == 3 and h.transpose(1, 2).is_contiguous()


class SampleNorm(nn.GroupNorm):
    """Normalise each sample over all its channels and positions (one group).

    Like LayerNorm it does not depend on the other rows of the batch, so a
    one-row batch trains and predicts like any other; unlike a per-position
    LayerNorm it mixes all positions (the MetaFormer/PoolFormer choice for
    conv features).

    A position-major input is normalised as a LayerNorm over its ``(L, C)``
    view, with the per-channel affine broadcast over positions: the same
    function as ``GroupNorm(1, C)``, without copying to ``[B, C, L]`` and
    back (``group_norm`` needs channels-first memory).

    Parameters
    ----------
    channels : int
        Number of channels.
    affine : bool, default=True
        Whether to learn a per-channel scale and shift.
    """

    def __init__(self, channels: int, affine: bool = True):
        super().__init__(1, channels, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` normalised, in the layout it came in."""
        if not is_position_major(x):
            return super().forward(x)
        seq = x.transpose(1, 2)  # [B, L, C], contiguous
        return layer_norm_fast(seq, self.weight, self.bias, self.eps).transpose(1, 2)


def layer_norm_fast(
    x: torch.Tensor,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """LayerNorm of ``x`` over all but its first dim, per-channel affine optional.

    ``weight`` and ``bias`` are ``(C,)`` (the last dim), broadcast over the
    others. Without them, constant ones and zeros are passed: the same
    numbers, but CPU's ``layer_norm`` without an affine takes a slower kernel
    (forward and backward about 1.3x slower on ``512 x 20 x 32``, ad hoc).
    """
    shape = x.shape[1:]
    weight = x.new_ones(()) if weight is None else weight
    bias = x.new_zeros(()) if bias is None else bias
    return F.layer_norm(x, shape, weight.expand(shape), bias.expand(shape), eps)


def conv_position_major(h: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv(h)`` for a position-major ``h``, in oneDNN's channels-last form.

    ``h`` viewed as ``[B, C, 1, L]`` is a channels-last 2D image, so a
    ``(1, kernel_size)`` conv2d runs oneDNN's channels-last kernel, which is
    several times faster on CPU than its channels-first 1D one on these
    short sequences, and returns channels-last (so position-major) output.
    ``conv`` is a ConvBlock's: ``padding="same"``, stride and dilation 1.
    """
    weight = conv.weight.unsqueeze(2)  # (C_out, C, 1, k)
    image = h.unsqueeze(2)
    pads = same_pads(conv.kernel_size[0])
    if pads[0] == pads[1]:
        out = F.conv2d(image, weight, conv.bias, padding="same")
    else:  # the pad keeps the channels-last layout
        out = F.conv2d(F.pad(image, pads), weight, conv.bias)
    return out.squeeze(2)


def conv_channels_first(h: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv(h)`` for a ``[B, C, L]`` ``h`` in channels-first memory."""
    pads = same_pads(conv.kernel_size[0])
    if pads[0] == pads[1]:
        return conv(h)
    return F.conv1d(F.pad(h, pads), conv.weight, conv.bias)


def same_pads(kernel_size: int) -> tuple[int, int]:
    """Return the zeros ``padding="same"`` adds left and right (stride, dilation 1).

    An even kernel pads one more on the right, as torch does. torch pads such
    a kernel by copying the input too, but warns of it (once a process, from
    C++): padding explicitly is the same work, without a warning the user can
    do nothing about.
    """
    left = (kernel_size - 1) // 2
    return left, kernel_size - 1 - left


def predicting(module: nn.Module) -> bool:
    """Whether ``module`` runs in eval mode without autograd (predict).

    Then no gradient needs a block's intermediate tensors, so a block may
    write its result into a tensor it has just made.
    """
    return not (module.training or torch.is_grad_enabled())


def activate_(act: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return ``act(x)``, in ``x`` itself where the activation has an in-place form."""
    if isinstance(act, nn.Hardswish):
        return F.hardswish(x, inplace=True)
    if isinstance(act, nn.ReLU):
        return x.relu_()
    return act(x)


def make_activation(name: str) -> nn.Module:
    """Build the activation named ``name`` (a key of ``ACTIVATIONS``)."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}. Got {name!r}."
        )
    return ACTIVATIONS[name]()


class ConvBlock(nn.Module):
    """Residual 1D convolution over the feature positions.

    ``h + Dropout(Act(Norm(Conv1d(h))))`` with ``padding="same"``, so the
    number of positions and channels is kept. A position-major input stays
    position-major (see :func:`conv_position_major`).

    Parameters
    ----------
    channels : int
        Number of channels (input and output).
    kernel_size : int
        Width of the convolution window, in feature positions.
    dropout : float
        Dropout rate on the residual branch.
    activation : {"hardswish", "relu", "gelu"}
        The activation ``Act`` (see ``ACTIVATIONS``).
    """

    def __init__(
        self, *, channels: int, kernel_size: int, dropout: float, activation: str
    ):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel_size, padding="same")
        self.norm = SampleNorm(channels)
        self.act = make_activation(activation)
        self.dropout = SpatialDropout(dropout)

    def __setstate__(self, state: dict) -> None:
        # Blocks pickled before the activation was a choice ran GELU.
        state["_modules"].setdefault("act", nn.GELU())
        super().__setstate__(state)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, channels, n_positions)``."""
        if is_position_major(h):
            y = conv_position_major(h, self.conv)
        else:
            y = conv_channels_first(h, self.conv)
        y = self.norm(y)
        if predicting(self):
            # The activation and the residual add run in place on the norm's
            # fresh output, two fewer batch-sized buffers per block (the
            # network alone predicted 1.04-1.16x as fast, in-process A/Bs).
            return activate_(self.act, y).add_(h)
        return self.dropout.residual(h, self.act(y))


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
        if self.block.fresh_output and predicting(self):
            return out.add_(h), weights  # one batch-sized buffer fewer
        return self.dropout.residual(h, out), weights

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
        # The 1x1 conv written out as a [B, L, C] @ [C, 1] product: oneDNN's
        # convolution is slow for one output channel, and a broadcast product
        # is slow on position-major input.
        w = self.score.weight  # (1, channels, 1)
        b = cast(torch.Tensor, self.score.bias)  # (1,): the conv has a bias
        scores = torch.matmul(self.norm(h).transpose(1, 2), w.view(-1, 1))
        weights = (scores.squeeze(-1) + b).softmax(dim=-1)
        return self.weighted_sum(h, weights), weights

    @staticmethod
    def weighted_sum(h: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Sum ``h`` (``[B, C, L]``) over positions with ``weights`` (``[B, L]``)."""
        # [B, 1, L] @ [B, L, C], not [B, C, L] @ [B, L, 1]: the same sums, but
        # a one-column output is the slow orientation of a batched matmul
        # (235 vs 34 us forward on 512 x 20 x 32), and on position-major h
        # this one's gradient comes back position-major.
        return torch.bmm(weights.unsqueeze(1), h.transpose(1, 2)).squeeze(1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, channels)``."""
        return self.pool(h)[0]

    def affine_free_score(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the score as a function of ``h`` normalised without the affine.

        The norm's per-channel affine folds into the score vector:
        ``score_l = normed_l . (g * w) + (beta . w + bias)``. Returns the
        ``(channels,)`` vector and the ``(1,)`` shift.
        """
        score = self.score.weight.view(-1)
        gain = score if self.norm.weight is None else self.norm.weight * score
        shift = cast(torch.Tensor, self.score.bias)
        if self.norm.bias is not None:
            shift = shift + self.norm.bias @ score
        return gain, shift


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
        self.norm = SampleNorm(channels, affine=False)
        self.weight = nn.Parameter(torch.empty(width, channels, n_positions))
        bound = channels**-0.5
        nn.init.uniform_(self.weight, -bound, bound)

    @property
    def out_features(self) -> int:
        """Numbers read per row: ``width * n_positions``."""
        return self.weight.numel() // self.weight.shape[-2]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``(batch_size, width * n_positions)``, one width after another."""
        h = self.norm(h)
        if torch.is_grad_enabled() or is_position_major(h):
            return self.read_normalised(h.transpose(1, 2))
        # Without autograd, on channels-first input, the broadcast product is
        # the faster one (the products' batch slices are strided there). With
        # autograd, its backward would hold two (batch, width, C, L) tensors.
        return (h.unsqueeze(1) * self._weight()).sum(dim=2).flatten(1)

    def read_normalised(self, normed: torch.Tensor) -> torch.Tensor:
        """Return the readout of an already normalised ``[B, L, C]`` tensor."""
        return self.flatten_products(position_products(normed, self.position_weight()))

    def position_weight(self) -> torch.Tensor:
        """Return the weight as ``[L, width, C]``, contiguous.

        A strided operand makes bmm copy.
        """
        return self._weight().permute(2, 0, 1).contiguous()

    @staticmethod
    def flatten_products(products: torch.Tensor) -> torch.Tensor:
        """``[L, width, B]`` products as the readout, ``[B, width * L]``."""
        return products.permute(2, 1, 0).flatten(1)

    def _weight(self) -> torch.Tensor:
        """``(width, channels, n_positions)``.

        A module pickled when the readout read one number has a (channels,
        n_positions) weight: the view reads it as width 1.
        """
        return self.weight.view(-1, *self.weight.shape[-2:])


def position_products(seq: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Return ``out[l] = weight[l] @ seq[:, l]ᵀ``, ``[L, width, B]``.

    ``seq`` is ``[B, L, C]`` and ``weight`` ``[L, width, C]``.
    """
    if torch.compiler.is_compiling():
        # Inductor derives and lays out the gradients itself (compiled
        # steps took about as long either way in trial runs), and dynamo
        # instantiates an autograd Function, which torch 2.13 warns of
        # (DeprecationWarning; an error under -W error).
        return torch.bmm(weight, seq.permute(1, 2, 0))
    return _PositionProducts.apply(seq, weight)


class _PositionProducts(torch.autograd.Function):
    """Per-position products ``out[l] = weight[l] @ seq[:, l]ᵀ``.

    ``seq`` is ``[B, L, C]``, ``weight`` ``[L, width, C]``, ``out`` ``[L,
    width, B]``. A batched matmul over positions is fast when its output's
    long side is the batch, and slow when it is ``width`` (4) wide: about
    50 against 230 us a product on 512 x 20 x 32. einsum, and autograd's
    gradients of the forward product, take the slow orientation or strided
    operands (1.35 ms for the readout's three products in a training step,
    against about 0.15 ms here); this function picks the fast one for each.
    """

    @staticmethod
    def forward(ctx, seq: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(seq, weight)
        return torch.bmm(weight, seq.permute(1, 2, 0))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        seq, weight = ctx.saved_tensors
        grad = grad.contiguous()  # [L, width, B]: a few hundred KB
        grad_seq = grad_weight = None
        if ctx.needs_input_grad[0]:
            # [L, B, width] @ [L, width, C]; [L, B, C] back to [B, L, C] memory.
            grad_seq = torch.bmm(grad.transpose(1, 2), weight)
            grad_seq = grad_seq.transpose(0, 1).contiguous()
        if ctx.needs_input_grad[1]:
            grad_weight = torch.bmm(grad, seq.transpose(0, 1))
        return grad_seq, grad_weight


def make_pooling(name: str, channels: int) -> MeanPool | AttentionPool:
    """Build the pooling named ``name`` (``"mean"`` or ``"attention"``)."""
    if name == "mean":
        return MeanPool()
    if name == "attention":
        return AttentionPool(channels=channels)
    raise ValueError(f"pooling must be 'mean' or 'attention'. Got {name!r}.")


def pool_and_read(
    h: torch.Tensor, pool: MeanPool | AttentionPool, readout: FeatureReadout
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Pool ``h`` and read it out from one normalisation (the training form).

    ``pool.pool(h)`` and ``readout(h)``, with the attention pool's score
    read from the readout's affine-free normalisation (its own affine folded
    into the score vector, see :meth:`AttentionPool.affine_free_score`): one
    LayerNorm forward and backward fewer a step. Needs both norms' eps equal.

    Parameters
    ----------
    h : Tensor
        ``(batch, C, L)``.
    pool : MeanPool or AttentionPool
        The branch's pooling.
    readout : FeatureReadout
        The branch's readout.

    Returns
    -------
    pooled : Tensor
        ``(batch, C)``, as ``pool.pool(h)[0]``.
    pool_weights : Tensor or None
        ``(batch, L)``, as ``pool.pool(h)[1]``.
    readout : Tensor
        ``(batch, readout.out_features)``, as ``readout(h)``.
    """
    seq = h.transpose(1, 2)  # [B, L, C]
    normed = layer_norm_fast(seq, eps=readout.norm.eps)
    if not isinstance(pool, AttentionPool):
        return *pool.pool(h), readout.read_normalised(normed)
    # The pool's score vector rides along as one more row of each position's
    # readout weights: one batched product instead of the readout's and a
    # [B * L, C] @ [C, 1] one, whose backward was an outer product as a
    # K = 1 matmul plus an add of the two gradients of the normalised input.
    gain, shift = pool.affine_free_score()
    weight = readout.position_weight()  # [L, width, C]
    width = weight.shape[1]
    weight = torch.cat([weight, gain.expand(weight.shape[0], 1, -1)], dim=1)
    products, scores = position_products(normed, weight).split([width, 1], dim=1)
    weights = (scores.squeeze(1).t() + shift).softmax(dim=-1)
    return pool.weighted_sum(h, weights), weights, readout.flatten_products(products)
