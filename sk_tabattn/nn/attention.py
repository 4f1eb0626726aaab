"""Attention blocks over the feature positions of a 1D-CNN, and their registry.

Every block maps ``(batch_size, channels, n_positions)`` to the same shape and
takes the same keyword-only signature ``(channels, n_heads, attention_dim,
dropout)``, so the network can build any of them by name. ``attend`` returns
the output and the weights that :mod:`sk_tabattn.explain` reports (``None``
where the block has none).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

AttentionName = Literal["none", "self", "multihead", "se", "mha", "row"]

ATTENTION_BLOCKS: dict[str, type[AttentionBlock]] = {}
"""Registry of attention blocks: name -> class."""

_B = TypeVar("_B", bound="type[AttentionBlock]")

#: From this many positions on, ``self`` and ``multihead`` run torch's fused
#: ``scaled_dot_product_attention`` with autograd (in training; see
#: ``_DotProductAttention._fused_applies``). Measured on 2 cores (forward and
#: backward of one block, d_token 32, batches of 128-512): 1.4-1.5x as fast
#: at 256 and 320 positions, mixed at 128-200, slower below 128, where the
#: explicit maps stay in cache.
FLASH_MIN_POSITIONS = 256

#: The same without autograd (predict), where no backward reads the maps;
#: ``mha`` also leaves torch's native inference path from here. Whole
#: ``predict_proba`` on 4,000 rows (in-process A/B, 2 cores): ``self`` 0.97x at
#: 150 positions, 1.01x at 160, 1.10-1.13x at 200-240; ``multihead`` 0.94x at
#: 100, 1.10x at 128, 1.31-1.38x at 150-160, 1.88x at 200; ``mha`` 1.03-1.19x
#: at 150-200.
FLASH_MIN_POSITIONS_INFERENCE = 160


def _flash_min_positions() -> int:
    """Positions from which the fused kernels run: fewer without autograd."""
    if torch.is_grad_enabled():
        return FLASH_MIN_POSITIONS
    return FLASH_MIN_POSITIONS_INFERENCE


def register_attention(name: str) -> Callable[[_B], _B]:
    """Register an attention block class under ``name``.

    Parameters
    ----------
    name : str
        Short lowercase name, used as the estimators' ``attention`` value.

    Returns
    -------
    decorator : callable
        Class decorator that adds the class to ``ATTENTION_BLOCKS``.

    Examples
    --------
    >>> from sk_tabattn.nn.attention import AttentionBlock, register_attention
    >>> @register_attention("double")
    ... class DoubleBlock(AttentionBlock):
    ...     def attend(self, x):
    ...         return 2 * x, None
    >>> from sk_tabattn.nn.attention import ATTENTION_BLOCKS
    >>> "double" in ATTENTION_BLOCKS
    True
    >>> del ATTENTION_BLOCKS["double"]
    """

    def decorator(cls: _B) -> _B:
        if name in ATTENTION_BLOCKS:
            raise ValueError(
                f"An attention block named {name!r} is already registered."
            )
        ATTENTION_BLOCKS[name] = cls
        cls.name = name
        return cls

    return decorator


class AttentionBlock(nn.Module, ABC):
    """Base class of the attention blocks.

    Parameters
    ----------
    channels : int
        Number of channels ``C`` of the input.
    n_heads : int, default=1
        Number of heads, for the blocks that have heads.
    attention_dim : int, default=16
        Width of queries and keys (per head), for the blocks that have them.
    dropout : float, default=0.0
        Dropout on the attention weights, for the blocks that have them.

    Notes
    -----
    **Shape**: input and output are ``(batch_size, channels, n_positions)``.
    The network's input is position-major in memory (a transposed view of a
    contiguous ``[B, L, C]``, see :func:`sk_tabattn.nn.blocks.is_position_major`):
    use ``reshape`` rather than ``view`` on it, and an output in the same
    layout saves the next block a copy.
    """

    name = ""

    #: Whether ``attend`` returns a new tensor that nothing else holds, so that
    #: at predict time the residual add may land in it. Blocks defined
    #: elsewhere keep False (their outputs are then added out of place); a
    #: subclass whose ``attend`` may return a shared tensor must set False.
    fresh_output = False

    def __init__(
        self,
        *,
        channels: int,
        n_heads: int = 1,
        attention_dim: int = 16,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.channels = channels
        self.n_heads = n_heads
        self.attention_dim = attention_dim
        self.dropout = dropout

    @abstractmethod
    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the attended input and the block's weights (or None)."""

    @classmethod
    def weight_floats(cls, n_positions: int, n_heads: int) -> int:
        """Floats per row of the largest intermediate beyond ``channels * n_positions``.

        The estimators size their inference batches from it, so that a wide
        table's ``n_positions ** 2`` attention maps stay within a memory budget.
        Blocks that hold no position-by-position tensor return 0.
        """
        return 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the attended input, shape ``(batch_size, channels, n_positions)``."""
        return self.attend(x)[0]


@register_attention("none")
class NoAttention(AttentionBlock):
    """Identity: the plain 1D-CNN baseline."""

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """Return ``x`` unchanged."""
        return x, None


class _DotProductAttention(AttentionBlock):
    """Shared code of ``self`` and ``multihead``.

    q and k project to ``attention_dim`` per head; keys have no bias, which
    would add the same amount to every score of a query and so be ignored by
    the softmax. The value projections are applied after the attention,
    folded into one ``heads * channels -> channels`` matrix: every row of an
    attention map ``A`` sums to 1, so ``A (X W_v + b_v) W_o = (A X) (W_v W_o)
    + b_v W_o``. The function class is the one of per-head value projections
    to ``channels`` followed by the output projection (seed 000's snippet 3),
    with one large matmul fewer. For ``self`` (one head) the folded matrix is
    the ``channels -> channels`` value projection itself.

    With several heads and ``channels <= 2 * attention_dim`` (``multihead``'s
    defaults), the scores are computed as ``(X M_h + u_h) Xᵀ`` with ``M_h =
    W_q,hᵀ W_k,h`` and ``u_h = b_q,h W_k,h``, formed from the same parameters
    at every call: the same function and gradients, one projection no wider
    than q and k together, and every product a batched matmul on tensors in
    the layout they are made in, where the q/k form needs per-head permuted
    copies. At the defaults on 20 features this made a training epoch 1.19x
    and inference 1.24x faster (interleaved runs in one process).

    From ``FLASH_MIN_POSITIONS`` positions on (``FLASH_MIN_POSITIONS_INFERENCE``
    without autograd), unless the maps are asked for
    (``need_weights``), the weights are dropped out in training, or the
    channels are much wider than ``attention_dim`` (see ``_fused_applies``),
    the same function runs through torch's fused
    ``scaled_dot_product_attention``, which never stores the ``[B, H * L, L]``
    maps.
    """

    fresh_output = True

    #: whether to honour ``n_heads`` (``self`` is always single-head).
    _multi_head = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.heads = self.n_heads if self._multi_head else 1
        c, a = self.channels, self.attention_dim
        self.query = nn.Linear(c, self.heads * a)
        self.key = nn.Linear(c, self.heads * a, bias=False)
        self.value_out = nn.Linear(self.heads * c, c)
        self.bilinear = self.heads > 1 and c <= 2 * a
        self.need_weights = False

    @classmethod
    def weight_floats(cls, n_positions: int, n_heads: int) -> int:
        """Scores and attention maps: ``heads * n_positions ** 2`` floats a row."""
        return (n_heads if cls._multi_head else 1) * n_positions**2

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend over positions; weights are ``(batch, n_positions, n_positions)``.

        Weights are averaged over the heads, and returned only when
        ``need_weights`` is set.
        """
        b, c, n = x.shape
        h = self.heads
        seq = x.transpose(1, 2)  # [B, L, C]
        if self._fused_applies(x):
            return self._flash_attend(x, seq), None
        if self.bilinear:
            scores = self._bilinear_scores(x, seq)  # [B, L*H, L], rows (query, head)
        else:
            scores = self._factored_scores(seq)  # [B, H*L, L], rows (head, query)
        weights = scores.softmax(dim=-1)
        if self.training and self.dropout:
            weights = F.dropout(weights, self.dropout)
        # All heads attend over the same (unprojected) values: one bmm.
        mixed = torch.bmm(weights, seq)
        if self.bilinear:  # rows (query, head) are already [B, L, H*C]
            mixed = mixed.view(b, n, h * c)
            per_head = weights.view(b, n, h, n).transpose(1, 2)
        else:
            mixed = mixed.view(b, h, n, c).transpose(1, 2).reshape(b, n, h * c)
            per_head = weights.view(b, h, n, n)
        out = self.value_out(mixed).transpose(1, 2)
        return out, per_head.mean(dim=1) if self.need_weights else None

    def _fused_applies(self, x: torch.Tensor) -> bool:
        """Whether ``_flash_attend`` computes this call's output.

        Not below ``_flash_min_positions()``, nor when the maps are asked for or
        dropped out. The fused kernel scores at the width of the channels where
        the explicit maps score at ``attention_dim``: one block's forward and
        backward on 300 positions (2 cores, ad hoc) ran 1.5-1.6x as fast at
        ``channels <= 2 * attention_dim``, 1.2x at 3x, 1.0x at 4x and 0.75x at
        8x (``d_token=128``, ``attention_dim=16``).
        """
        _, c, n = x.shape
        if n < _flash_min_positions() or self.need_weights:
            return False
        if self.training and self.dropout:
            return False
        return c <= 4 * self.attention_dim

    def _flash_attend(self, x: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        """Attend through ``scaled_dot_product_attention``, keeping no maps.

        Queries take the bilinear form ``X M_h + u_h`` (width ``channels``),
        so that queries, keys and values all have the same width and torch's
        fused CPU kernel applies: keys and values are the unprojected
        sequence, shared by the heads. The kernel never holds the ``[B, H *
        L, L]`` scores, which on wide tables cost more time and memory than
        the products themselves.
        """
        b, c, n = x.shape
        h = self.heads
        query = self._bilinear_queries(seq).view(b, n, h, c).transpose(1, 2)
        shared = seq.unsqueeze(1).expand(b, h, n, c)
        mixed = F.scaled_dot_product_attention(query, shared, shared, scale=1.0)
        out = self.value_out(mixed.transpose(1, 2).reshape(b, n, h * c))
        return out.transpose(1, 2)

    def _bilinear_queries(self, seq: torch.Tensor) -> torch.Tensor:
        """Scaled ``X M_h + u_h`` for every head: ``[B, L, heads * channels]``.

        ``q_i . k_j = x_i M_h x_j + u_h x_j + (terms constant in j)``, with
        ``M_h = W_q,hᵀ W_k,h`` and ``u_h = b_q,h W_k,h``; the softmax over
        ``j`` ignores the constant terms.
        """
        c = seq.shape[-1]
        h, a = self.heads, self.attention_dim
        w_q = self.query.weight.view(h, a, c)
        w_k = self.key.weight.view(h, a, c)
        scale = a**-0.5
        # Row (h, d) of the projection is column d of M_h = W_q,hᵀ W_k,h.
        # bmm on the transposed view, not einsum, whose equation handling took
        # longer than these small products (the same numbers and gradients;
        # 74 against 32 us at the defaults, ad hoc).
        proj_weight = torch.bmm(w_k.transpose(1, 2), w_q).reshape(h * c, c)
        proj_bias = torch.bmm(self.query.bias.view(h, 1, a), w_k).view(h * c)
        return F.linear(seq, proj_weight * scale, proj_bias * scale)

    def _bilinear_scores(self, x: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        """Scaled scores ``(batch, n_positions * heads, n_positions)``.

        Rows are ordered (query, head): see ``_bilinear_queries``.
        """
        b, c, n = x.shape
        y = self._bilinear_queries(seq)
        return torch.bmm(y.view(b, n * self.heads, c), x)

    def _factored_scores(self, seq: torch.Tensor) -> torch.Tensor:
        """Scaled scores ``(batch, heads * n_positions, n_positions)``.

        Rows are ordered (head, query). The q/k form: cheaper than the
        bilinear one with one head (no copies), or when ``channels > 2 *
        attention_dim``.
        """
        h, a = self.heads, self.attention_dim
        qk = self._fused_qk(seq)
        if h == 1:
            # Strided views go to bmm as they are: the per-head permute makes
            # matmul copy q and k (forward and backward), for the same numbers.
            # split, not two slices: its gradient is one cat, where each
            # slice's is a zero-filled copy, and the two are then added.
            q, k = qk.split(a, dim=-1)
            return torch.bmm(q, k.transpose(1, 2))
        return _per_head_scores(qk, h, a)

    def _fused_qk(self, seq: torch.Tensor) -> torch.Tensor:
        """Return q / √attention_dim and k side by side: ``[B, L, 2 * heads * A]``.

        The scale sits in the query's weights (a few hundred numbers), not on
        the ``[B, H * L, L]`` scores (forward and backward).
        """
        scale = self.attention_dim**-0.5
        weight = torch.cat([self.query.weight * scale, self.key.weight])
        # The keys have no bias.
        bias = F.pad(self.query.bias * scale, (0, self.heads * self.attention_dim))
        return F.linear(seq, weight, bias)


def _per_head_scores(qk: torch.Tensor, heads: int, attention_dim: int) -> torch.Tensor:
    """Scores ``(batch, heads * n, n)`` of a fused ``[B, n, 2 * H * A]`` q|k.

    The scale is already in q (see ``_DotProductAttention._fused_qk``).
    """
    b, n, _ = qk.shape
    q, k = qk.view(b, n, 2, heads, attention_dim).permute(2, 0, 3, 1, 4).unbind(0)
    return (q @ k.transpose(-2, -1)).view(b, heads * n, n)


@register_attention("self")
class SelfAttention(_DotProductAttention):
    """Single-head scaled dot-product self-attention over the positions.

    q and k project ``channels -> attention_dim``, v projects ``channels ->
    channels``, softmax(q kᵀ / √attention_dim) v; ``n_heads`` is ignored.
    """

    _multi_head = False


@register_attention("multihead")
class MultiHeadAttention(_DotProductAttention):
    """``n_heads`` heads of scaled dot-product attention over the positions.

    Each head has queries and keys of width ``attention_dim`` and values of
    width ``channels``; the concatenated heads are projected back to
    ``channels``.
    """


@register_attention("mha")
class TorchMultiheadAttention(AttentionBlock):
    """``torch.nn.MultiheadAttention(channels, n_heads)`` over the positions.

    ``channels`` must be divisible by ``n_heads``. The module holds the
    parameters; where it is faster (see ``_batch_first_applies``), its
    function is computed on a batch-first layout of the heads.
    """

    fresh_output = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.channels % self.n_heads:
            raise ValueError(
                "channels must be divisible by n_heads for torch's "
                f"MultiheadAttention. Got channels={self.channels}, "
                f"n_heads={self.n_heads}."
            )
        self.mha = nn.MultiheadAttention(
            self.channels, self.n_heads, dropout=self.dropout, batch_first=True
        )
        self.need_weights = False

    @classmethod
    def weight_floats(cls, n_positions: int, n_heads: int) -> int:
        """Attention maps: ``n_heads * n_positions ** 2`` floats a row."""
        return n_heads * n_positions**2

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend over positions; weights are ``(batch, n_positions, n_positions)``."""
        seq = x.transpose(1, 2)
        if self._batch_first_applies(x):
            return self._batch_first_attend(seq).transpose(1, 2), None
        out, weights = self.mha(
            seq, seq, seq, need_weights=self.need_weights, average_attn_weights=True
        )
        return out.transpose(1, 2), weights

    def _batch_first_applies(self, x: torch.Tensor) -> bool:
        """Whether ``_batch_first_attend`` computes this call's output.

        Not when the maps are asked for, nor with attention dropout in
        training (the module's own code does both). Without autograd in eval
        mode, torch's native inference path is faster on narrower tables (3.8
        against 6.8 ms on 512 rows x 20; 315 against 173 ms on 128 x 500; ad
        hoc, 2 cores): see ``FLASH_MIN_POSITIONS_INFERENCE``.
        """
        if self.need_weights or (self.training and self.dropout):
            return False
        if self.training or torch.is_grad_enabled():
            return True
        return x.shape[-1] >= FLASH_MIN_POSITIONS_INFERENCE

    def _batch_first_attend(self, seq: torch.Tensor) -> torch.Tensor:
        """Compute the module's function on ``[B, L, C]``, heads batch-first.

        ``nn.MultiheadAttention`` works sequence-first inside, so the q, k and
        v it hands ``scaled_dot_product_attention`` stride over the batch,
        which made torch's fused CPU kernel about 3x slower at 8 channels a
        head (forward and backward on 256 rows x 500 positions: 3.76 against
        1.14 s, ad hoc). The same parameters and products on ``[B, H, L,
        C / H]`` views: outputs equal to the module's (tested), and a
        training step of the block 1.24x as fast on 20 positions, 1.6x on 100
        and 2.4x on 500 (ad hoc, 2 cores).
        """
        b, n, c = seq.shape
        h = self.n_heads
        mha = self.mha
        qkv = F.linear(seq, mha.in_proj_weight, mha.in_proj_bias)
        q, k, v = qkv.view(b, n, 3, h, c // h).permute(2, 0, 3, 1, 4).unbind(0)
        mixed = F.scaled_dot_product_attention(q, k, v)  # [B, H, L, C / H]
        return mha.out_proj(mixed.transpose(1, 2).reshape(b, n, c))


@register_attention("se")
class SqueezeExcitation(AttentionBlock):
    """Squeeze-and-excitation gate over the channels.

    The mean over positions goes through ``channels -> max(channels // 4, 1)
    -> channels`` (ReLU, then sigmoid), and the result scales every channel.
    """

    fresh_output = True

    reduction = 4

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        hidden = max(self.channels // self.reduction, 1)
        self.squeeze = nn.Linear(self.channels, hidden)
        self.excite = nn.Linear(hidden, self.channels)

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate the channels; weights are ``(batch_size, channels)``."""
        gate = torch.sigmoid(self.excite(F.relu(self.squeeze(x.mean(dim=-1)))))
        return x * gate.unsqueeze(-1), gate


class _SafeBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm that survives a one-row training batch.

    Batch statistics of one row are undefined: use the running ones instead.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                training=False,
                eps=self.eps,
            )
        return super().forward(x)


@register_attention("row")
class RowAttention(AttentionBlock):
    """Inter-sample attention: weigh each row against the rows it is trained with.

    A small MLP (``channels -> channels // 2``, BatchNorm, ReLU, ``-> 1``,
    sigmoid) scores every sample from its mean over positions. In training,
    the scores are divided by their batch mean, so the weights average 1; a
    running mean of that normaliser is kept (like BatchNorm's statistics) and
    used at inference, so a row's prediction does not depend on the other rows
    of its batch.
    """

    fresh_output = True

    running_norm: torch.Tensor

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        hidden = max(self.channels // 2, 1)
        self.scorer = nn.Sequential(
            nn.Linear(self.channels, hidden),
            _SafeBatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, 1),
        )
        self.momentum = 0.1
        self.register_buffer("running_norm", torch.tensor(0.5))

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Scale each row; weights are ``(batch_size,)``."""
        score = torch.sigmoid(self.scorer(x.mean(dim=-1))).squeeze(-1)
        if self.training and x.shape[0] > 1:
            norm = score.mean()
            with torch.no_grad():
                self.running_norm.lerp_(norm.detach(), self.momentum)
        else:
            norm = self.running_norm
        weights = score / norm
        return x * weights.view(-1, *([1] * (x.dim() - 1))), weights
