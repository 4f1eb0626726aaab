"""Attention rollout: how much of the pooled vector flows from each position."""

from __future__ import annotations

import torch

from .nn.blocks import same_pads


def _conv_flow(
    conv: torch.nn.Conv1d, h: torch.Tensor, flow: torch.Tensor
) -> torch.Tensor:
    """``flow @ (M + I) / 2`` for the conv's mixing matrix ``M``, ``[B, L]``.

    ``M[b, i, j]`` is the share of input position ``j`` in output ``i``: the
    norm of position j's term of the convolution at i, over the row's total
    (the identity where nothing flows, as at a zero input). ``M`` is banded
    (``kernel_size`` diagonals), so the product runs over the band: O(L k)
    a row, where the dense ``[B, L, L]`` matrix is O(L²) (128 MB for a batch
    of 128 rows of 500 columns).
    """
    weight = conv.weight.detach().float().cpu()  # [C_out, C_in, k]
    length = h.shape[-1]
    kernel = weight.shape[-1]
    left = same_pads(kernel)[0]
    # norms[b, o, j]: norm of W[:, :, o] @ h[b, :, j]
    norms = torch.einsum("ock,bcl->bkol", weight, h).norm(dim=2)  # [B, k, L]
    # Diagonal d = o - left holds M[:, i, i + d] for i in [a, b); a tap that
    # reaches only padding (a kernel longer than the row) has none.
    diagonals = [
        (o, o - left, max(0, left - o), min(length, length + left - o))
        for o in range(kernel)
    ]
    # (d, a, b, the diagonal's entries M[:, i, i + d] before normalising)
    bands = [(d, a, b, norms[:, o, a + d : b + d]) for o, d, a, b in diagonals if a < b]
    total = torch.zeros_like(flow)
    for _, a, b, band in bands:
        total[:, a:b] += band
    flows = total > 0
    scaled = torch.where(flows, flow / total.clamp_min(1e-12), 0.0)
    moved = torch.where(flows, 0.0, flow)  # rows without flow: the identity
    for d, a, b, band in bands:
        moved[:, a + d : b + d] += scaled[:, a:b] * band
    return 0.5 * (flow + moved)


def _branch_operations(branch, n_attention: int) -> list[tuple[str, int]]:
    """Return the order in which a branch applies its conv and attention blocks."""
    convs = [("conv", c) for c in range(len(branch.convs))]
    attentions = [("attention", a) for a in range(n_attention)]
    if branch.attention_position == "before":
        return attentions + convs
    if branch.attention_position == "each":
        ops = []
        for c in range(len(branch.convs)):
            ops.append(("conv", c))
            if c < n_attention:
                ops.append(("attention", c))
        return ops
    return convs + attentions


def rollout(branch, s: int, weights: dict, recorder, batch: int) -> torch.Tensor:
    """Flow from each of a stream's positions to its pooled vector, ``[B, L]``."""
    pooling = weights["pooling"]
    length = len(branch.positions)
    flow = (
        pooling
        if pooling is not None
        else torch.full((batch, length), 1 / length, dtype=torch.float32)
    )
    eye = torch.eye(length, dtype=torch.float32)
    # z = sum_l p_l h_l and h = R h_prev, so the flow back through a block is p @ R.
    ops = _branch_operations(branch, len(weights["attention"]))
    for kind, index in reversed(ops):
        if kind == "conv":
            h = recorder.conv_inputs[(s, index)].float().cpu()
            flow = _conv_flow(branch.convs[index].conv, h, flow)
            continue
        attention = weights["attention"][index]
        if attention is None or attention.dim() != 3:
            continue  # se, row and none do not mix positions
        flow = torch.bmm(flow.unsqueeze(1), 0.5 * (attention + eye)).squeeze(1)
    return flow


def stream_shares(fusion, n_streams: int, batch: int) -> torch.Tensor:
    """Share of each stream in the fused vector, ``[B, S]``."""
    if fusion is None:
        return torch.full((batch, n_streams), 1.0 / n_streams, dtype=torch.float32)
    w = fusion.abs()
    if w.dim() == 3:  # adaptive: [B, S, C]
        w = w.mean(dim=-1)
    else:
        w = w.expand(batch, n_streams)
    return w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
