"""Attention rollout: how much of the pooled vector flows from each position."""

from __future__ import annotations

import torch


def _conv_mixing(conv: torch.nn.Conv1d, h: torch.Tensor) -> torch.Tensor:
    """Row-stochastic ``[B, L, L]``: share of input position j in output i.

    The share is the norm of position j's term of the convolution at i.
    """
    weight = conv.weight.detach().float().cpu()  # [C_out, C_in, k]
    batch, _, length = h.shape
    kernel = weight.shape[-1]
    left = (kernel - 1) // 2  # torch's padding="same" puts the odd pad right
    # norms[o][b, j]: norm of W[:, :, o] @ h[b, :, j]
    norms = torch.einsum("ock,bcl->bkol", weight, h).norm(dim=2)  # [B, k, L]
    mixing = torch.zeros(batch, length, length)
    for o in range(kernel):
        d = o - left
        i = torch.arange(max(0, -d), min(length, length - d))
        if len(i):
            mixing[:, i, i + d] = norms[:, o, i + d]
    total = mixing.sum(dim=-1, keepdim=True)
    eye = torch.eye(length).expand(batch, -1, -1)
    return torch.where(total > 0, mixing / total.clamp_min(1e-12), eye)


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
    flow = pooling if pooling is not None else torch.full((batch, length), 1 / length)
    eye = torch.eye(length)
    # z = sum_l p_l h_l and h = R h_prev, so the flow back through a block is p @ R.
    ops = _branch_operations(branch, len(weights["attention"]))
    for kind, index in reversed(ops):
        if kind == "conv":
            h = recorder.conv_inputs[(s, index)].float().cpu()
            mixing = _conv_mixing(branch.convs[index].conv, h)
        else:
            attention = weights["attention"][index]
            if attention is None or attention.dim() != 3:
                continue  # se, row and none do not mix positions
            mixing = attention
        flow = torch.bmm(flow.unsqueeze(1), 0.5 * (mixing + eye)).squeeze(1)
    return flow


def stream_shares(fusion, n_streams: int, batch: int) -> torch.Tensor:
    """Share of each stream in the fused vector, ``[B, S]``."""
    if fusion is None:
        return torch.full((batch, n_streams), 1.0 / n_streams)
    w = fusion.abs()
    if w.dim() == 3:  # adaptive: [B, S, C]
        w = w.mean(dim=-1)
    else:
        w = w.expand(batch, n_streams)
    return w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
