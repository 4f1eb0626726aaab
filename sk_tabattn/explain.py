"""Explanations of fitted estimators: attention maps and feature importances.

The network reports every weight it computes (``AttentionCNN.explain_forward``);
this module maps them back to the input columns:

- positional attention (``self``, ``multihead``, ``mha``) and attention
  pooling are combined by *attention rollout* (Abnar & Zuidema, 2020): each
  attention block's map, averaged over heads and mixed half-and-half with the
  identity for its residual connection, is chained over the blocks, and the
  pooling weights say how much each position counts for the output. The
  result is, per row, how much of the pooled representation flows from each
  input column (it sums to 1 over the columns).
- channel gates (``se``), row weights (``row``) and stream fusion weights are
  reported as they are.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .data import TabularDataset, TensorBatchIterator


@dataclass
class Explanation:
    """What a fitted network attended to, for a set of rows.

    Attributes
    ----------
    feature_attention : DataFrame of shape (n_samples, n_features_in_)
        Per row, the share of the pooled representation that flows from each
        input column (attention rollout); rows sum to 1.
    attention_maps : list of ndarray of shape (n_samples, n_positions, n_positions)
        The positional attention maps (averaged over heads), one per block and
        stream, in token positions; empty for blocks without one.
    channel_gates : ndarray of shape (n_samples, d_token) or None
        The mean squeeze-and-excitation gate per channel (``se``).
    row_weights : ndarray of shape (n_samples,) or None
        The weight of each row (``row``), averaged over blocks.
    fusion_weights : DataFrame or None
        The weight of each stream: one row of global weights, or one row per
        sample for ``fusion="adaptive"`` (averaged over channels).
    """

    feature_attention: pd.DataFrame
    attention_maps: list[np.ndarray] = field(default_factory=list)
    channel_gates: np.ndarray | None = None
    row_weights: np.ndarray | None = None
    fusion_weights: pd.DataFrame | None = None


@contextmanager
def _weights_requested(module: torch.nn.Module):
    """Make the attention blocks compute their weights (the fused kernels don't)."""
    blocks = [m for m in module.modules() if hasattr(m, "need_weights")]
    for m in blocks:
        m.need_weights = True
    try:
        yield
    finally:
        for m in blocks:
            m.need_weights = False


def _feature_names(estimator) -> list[str]:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(estimator.n_features_in_)]
    return [str(n) for n in names]


def _rollout(stream_weights: dict, n_positions: int, batch: int) -> torch.Tensor:
    """Flow from each of a stream's positions to its pooled vector, ``[B, L]``."""
    pooling = stream_weights["pooling"]
    flow = (
        pooling
        if pooling is not None
        else torch.full((batch, n_positions), 1.0 / n_positions)
    )
    eye = torch.eye(n_positions)
    # z = sum_l p_l h_l and h = R h_prev, so the flow back through a block is p @ R;
    # blocks are undone from the last to the first.
    for attention in reversed(stream_weights["attention"]):
        if attention is not None and attention.dim() == 3:
            flow = torch.bmm(flow.unsqueeze(1), 0.5 * (attention + eye)).squeeze(1)
    return flow


def _stream_shares(fusion, n_streams: int, batch: int) -> torch.Tensor:
    """Share of each stream in the fused vector, ``[B, S]``."""
    if fusion is None:
        return torch.full((batch, n_streams), 1.0 / n_streams)
    w = fusion.abs()
    if w.dim() == 3:  # adaptive: [B, S, C]
        w = w.mean(dim=-1)
    else:
        w = w.expand(batch, n_streams)
    return w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)


def explain(estimator, X, *, batch_size: int = 1024) -> Explanation:
    """Explain a fitted estimator's predictions on ``X``.

    Parameters
    ----------
    estimator : AttentionCNNClassifier or AttentionCNNRegressor
        A fitted estimator.
    X : {DataFrame, array-like} of shape (n_samples, n_features)
        Rows to explain.
    batch_size : int, default=1024
        Rows per forward pass.

    Returns
    -------
    explanation : Explanation
        Attention over the input columns, and the other weights of the network.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_tabattn import AttentionCNNClassifier
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = AttentionCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> ex = clf.explain(X.iloc[:3])
    >>> ex.feature_attention.shape
    (3, 4)
    >>> bool(np.allclose(ex.feature_attention.sum(axis=1), 1))
    True
    """
    from sklearn.utils.validation import check_is_fitted

    from ._validation import as_table, validate_data

    check_is_fitted(estimator)
    X = validate_data(estimator, as_table(X), reset=False, skip_check_array=True)
    module = estimator.net_.module_
    encoder = estimator.encoder_
    token_columns = encoder.token_columns_
    branches = list(module.branches)
    was_training = module.training
    module.eval()
    parts: dict[str, list] = {
        "flow": [],
        "maps": [],
        "gates": [],
        "rows": [],
        "fus": [],
    }
    dataset = TabularDataset(encoder.encode(X))
    device = next(module.parameters()).device
    try:
        with torch.no_grad(), _weights_requested(module):
            for inputs, _ in TensorBatchIterator(dataset, batch_size):
                inputs = {k: v.to(device) for k, v in inputs.items()}
                _, weights = module.explain_forward(inputs["x_num"], inputs["x_cat"])
                weights = _to_cpu(weights)
                batch = len(inputs["x_num"])
                _collect(parts, weights, branches, token_columns, batch, estimator)
    finally:
        module.train(was_training)
    names = _feature_names(estimator)
    flow = np.concatenate(parts["flow"])
    maps = [np.concatenate(m) for m in zip(*parts["maps"], strict=True)]
    gates = np.concatenate(parts["gates"]) if parts["gates"] else None
    rows = np.concatenate(parts["rows"]) if parts["rows"] else None
    fusion = None
    if parts["fus"]:
        stream_names = [f"stream_{i}" for i in range(len(branches))]
        fusion = pd.DataFrame(np.concatenate(parts["fus"]), columns=stream_names)
        if module.fusion.kind != "adaptive":
            fusion = fusion.iloc[:1].reset_index(drop=True)
    index = X.index if isinstance(X, pd.DataFrame) else None
    return Explanation(
        feature_attention=pd.DataFrame(flow, columns=names, index=index),
        attention_maps=maps,
        channel_gates=gates,
        row_weights=rows,
        fusion_weights=fusion,
    )


def _to_cpu(weights):
    if isinstance(weights, torch.Tensor):
        return weights.detach().float().cpu()
    if isinstance(weights, dict):
        return {k: _to_cpu(v) for k, v in weights.items()}
    if isinstance(weights, list | tuple):
        return [_to_cpu(v) for v in weights]
    return weights


def _collect(parts, weights, branches, token_columns, batch, estimator) -> None:
    """Add one batch's weights to ``parts``, mapped to input columns."""
    streams = weights["streams"]
    shares = _stream_shares(weights["fusion"], len(streams), batch)
    flow = torch.zeros(batch, estimator.n_features_in_)
    maps, gates, rows = [], [], []
    for s, (branch, sw) in enumerate(zip(branches, streams, strict=True)):
        positions = branch.positions.cpu()
        stream_flow = _rollout(sw, len(positions), batch) * shares[:, s : s + 1]
        columns = torch.as_tensor(token_columns)[positions]
        flow.index_add_(1, columns, stream_flow)
        for w in sw["attention"]:
            if w is None:
                continue
            if w.dim() == 3:
                maps.append(w.numpy())
            elif w.dim() == 2:
                gates.append(w)
            else:
                rows.append(w)
    parts["flow"].append(flow.numpy())
    parts["maps"].append(maps)
    if gates:
        parts["gates"].append(torch.stack(gates).mean(dim=0).numpy())
    if rows:
        parts["rows"].append(torch.stack(rows).mean(dim=0).numpy())
    if weights["fusion"] is not None:
        parts["fus"].append(shares.numpy())


def feature_importances(estimator, X, *, max_rows: int = 2000, random_state=0):
    """Mean attention-rollout share of each input column over rows of ``X``.

    Parameters
    ----------
    estimator : AttentionCNNClassifier or AttentionCNNRegressor
        A fitted estimator.
    X : {DataFrame, array-like} of shape (n_samples, n_features)
        Rows to average over (usually the training data).
    max_rows : int, default=2000
        At most this many rows, drawn at random, are used.
    random_state : int, default=0
        Seed of the draw.

    Returns
    -------
    importances : ndarray of shape (n_features_in_,)
        Non-negative, summing to 1.
    """
    from sklearn.utils import _safe_indexing
    from sklearn.utils.validation import _num_samples

    n = _num_samples(X)
    if n > max_rows:
        rows = np.sort(np.random.RandomState(random_state).permutation(n)[:max_rows])
        X = _safe_indexing(X, rows)
    flow = explain(estimator, X).feature_attention.to_numpy().mean(axis=0)
    return flow / flow.sum()
