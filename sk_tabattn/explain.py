"""Explanations of fitted estimators: attention, attributions, feature importances.

The network reports every weight it computes (``AttentionCNN.explain_forward``);
this module maps them back to the input columns and adds a gradient
attribution. For each explained row it gives:

**Feature attention** (``Explanation.feature_attention``): where the network
looks. *Attention rollout* (Abnar & Zuidema, 2020) traced back from the
pooled vector to the input columns. The pooling weights (uniform for
``pooling="mean"``) say how much each position counts; every block that mixes
positions then passes that share back to its inputs:

- an attention block (``self``, ``multihead``, ``mha``) through
  ``(A + I) / 2``, its attention map ``A`` averaged over heads, mixed
  half-and-half with the identity for its residual connection;
- a conv block, which mixes a window of ``kernel_size`` neighbouring
  positions, through ``(K + I) / 2``, where ``K[i, j]`` is the share of
  input position ``j`` in output position ``i``, measured by the norm of its
  term ``||W_(j-i) h_j||`` of the convolution (the norm-based analysis of
  Kobayashi et al., 2020; the normalisation and activation after the
  convolution are left out). Without this step the flow would stop at the
  convolution's output, whose position ``i`` already holds its neighbours.

Blocks that do not mix positions (``se``, ``row``, ``none``) pass the flow
unchanged, and streams are weighted by their fusion weights. Each row sums to
1 over the columns. With ``feature_readout=True`` the head also reads every
position through fixed learned weights (not attention); the rollout follows
the pooled vector only, while the attribution below covers both paths.

**Feature attribution** (``Explanation.feature_attribution``): how much each
column moved this prediction. *Integrated gradients* (Sundararajan et al.,
2017) on the feature tokens: the gradient of the output is averaged along the
straight path from a reference row's tokens to the row's tokens, and
multiplied by the difference of the tokens. The attributions of a row add up
to its output minus the reference row's output (``output - base_value``, up to
the error of an ``n_steps``-point integral). In the reference row, numeric
columns sit at their median training value (the lower middle value for an
even count, so that in a column never missing in training a row at that
value gets exactly zero attribution for it, tied values and every
``numeric_transform`` included; models fitted before 2026-12-06 use encoded
value 0) and categorical columns at the
average of their category embeddings, each mixed with the column's missing
token by the share of the training rows in which the column is missing: the
reference is then the average token of the column, missing values included,
as it is already for the categories. A column never missing keeps the
median's token (which its missing token also takes, so a missing value
there gets zero attribution), and a column missing in every training row
gets exactly zero attribution (with a reference at value 0, every missing
value differed from the reference, and an empty column took credit for the
output's dependence on its missing token). The output
is the logit of the positive class (binary classifiers; of each row's
predicted class with more classes) minus the mean logit, since softmax
ignores a shift of all logits; or the standardised prediction (regressors,
averaged over outputs). The gradient flows through the attention blocks, the
convolutions and the pooling, so it credits the column a prediction depends
on, not the neighbour whose position the attention happens to read.

**Feature importances** (``feature_importances_``): the mean absolute
attribution of each column over up to 1,000 training rows, normalised to sum
to 1 (the mean ``|SHAP|`` convention). Attention alone is not used for them:
attention weights say where information is read, not whether the prediction
depends on it (Jain & Wallace, 2019), and here the conv blocks mix
neighbouring columns before attention sees them. On tables where the target
depends on two of eight columns, the attention rollout rarely ranked those two
first; integrated gradients did in every run (``tests/test_explain.py``).

``sklearn.inspection.permutation_importance`` is the model-agnostic
alternative: it measures how much a *score* drops on held-out data when a
column is shuffled. Prefer it to compare with other models, to rank columns
by their effect on the test score rather than on the training rows, or for
strongly correlated columns (shuffling one breaks its link to the others,
which neither method resolves); it costs ``n_features × n_repeats``
predictions of the whole set, where the attribution costs ``n_steps``
backward passes of at most 1,000 rows.

**Memory.** The attention maps take ``n_samples × Σ n_columns² × 4`` bytes
(the sum over attention blocks and streams): 8 GB for 2,000 rows of 1,000
columns and one block. ``explain`` estimates that size before it runs and
raises a ``MemoryError`` if it exceeds 80% of the memory available (the
machine's, or the headroom under its container's limit); explain fewer
rows at a time, or pass ``attention_maps=False``, which still gives every
other part, the feature attention included (the rollout reads each batch's
maps and lets them go). The guard does not count the working memory of a
batch, which grows with its rows times the square of the columns, with or
without the maps; so by default a batch computes at most 256 MiB of maps
(32 rows of 1,000 columns with ``multihead``, 2 heads: 0.44 GB more at the
peak, where predict's 128 rows took 3.1 GB, in the same time).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from ._attention_maps import MapStore, check_map_memory, default_batch_size
from ._attribution import explained_output, integrated_gradients, reference_tokens
from ._recorder import Recorder
from ._rollout import rollout, stream_shares
from ._validation import _INTERNAL_ERROR, _num_samples, _safe_indexing
from .data import TabularDataset, TensorBatchIterator

#: Points of the integrated-gradients path (midpoint rule).
N_STEPS = 8


def _check_bool(value, name: str) -> None:
    """Raise a TypeError unless ``value`` is a bool (a string would read as True)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool. Got {value!r} instead.")


def _check_positive_int(value, name: str, *, allow_none: bool = False) -> None:
    """Raise a ValueError or TypeError unless ``value`` is an int >= 1."""
    allowed = "a positive int" + (" or None" if allow_none else "")
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}. Got {value!r} instead.")
    if value < 1:
        raise ValueError(f"{name} must be {allowed}. Got {value!r} instead.")


@dataclass
class AttentionMap:
    """One attention block's map over the columns of its stream.

    Attributes
    ----------
    weights : ndarray of shape (n_samples, n_columns, n_columns)
        ``weights[r, i, j]``: how much column ``i``'s position attends to
        column ``j``'s in row ``r`` (averaged over heads; rows sum to 1).
    columns : list of str
        The columns of the stream, in input order.
    block : int
        Index of the attention block in its stream (several with
        ``attention_position="each"``).
    stream : int
        Index of the stream.

    See Also
    --------
    Explanation : Holds the maps of every attention block in ``attention_maps``.
    """

    weights: np.ndarray
    columns: list[str]
    block: int = 0
    stream: int = 0

    def mean(self) -> pd.DataFrame:
        """Return the map averaged over rows, labelled by column.

        Returns
        -------
        map : DataFrame of shape (n_columns, n_columns)
            Query columns as the index, key columns as the columns.
        """
        return pd.DataFrame(
            self.weights.mean(axis=0), index=self.columns, columns=self.columns
        )


@dataclass
class Explanation:
    """What a fitted network attended to and relied on, for a set of rows.

    Tables are indexed like the explained ``X`` and have one column per input
    column (``feature_names_in_``, else ``x0, x1, ...``).

    Attributes
    ----------
    feature_attention : DataFrame of shape (n_samples, n_features_in_)
        Per row, the share of the pooled representation that flows from each
        input column (attention rollout through attention and conv blocks);
        rows sum to 1.
    feature_attribution : DataFrame of shape (n_samples, n_features_in_)
        Per row, each column's signed contribution to the explained output
        (integrated gradients from the reference row): a row's attributions
        add up to ``output - base_value``.
    output : Series of shape (n_samples,)
        The explained output of each row (see ``target``).
    base_value : Series of shape (n_samples,)
        The same output for the reference row.
    target : str
        What ``output`` is.
    attention_maps : list of AttentionMap
        The positional attention maps, one per attention block and stream
        (``self``, ``multihead``, ``mha``); empty for the other blocks, and
        when ``explain`` was called with ``attention_maps=False``.
    channel_gates : DataFrame of shape (n_samples, d_token) or None
        The squeeze-and-excitation gate of each channel (``se``), averaged
        over blocks.
    row_weights : Series of shape (n_samples,) or None
        The weight of each row (``row``), averaged over blocks.
    fusion_weights : DataFrame or None
        The share of each stream: one row of global weights, or one row per
        sample for ``fusion="adaptive"`` (averaged over channels).

    See Also
    --------
    explain : Build one from a fitted estimator (``estimator.explain(X)``).
    sk_tabattn.plotting.plot_feature_attention : Heatmap of the per-row tables.
    """

    feature_attention: pd.DataFrame
    feature_attribution: pd.DataFrame
    output: pd.Series
    base_value: pd.Series
    target: str
    attention_maps: list[AttentionMap] = field(default_factory=list)
    channel_gates: pd.DataFrame | None = None
    row_weights: pd.Series | None = None
    fusion_weights: pd.DataFrame | None = None


def _feature_names(estimator, X=None) -> list:
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    if isinstance(X, pd.DataFrame):  # labels scikit-learn does not keep: ints
        return list(X.columns)
    return [f"x{i}" for i in range(estimator.n_features_in_)]


# Integrated gradients need autograd, also under a caller's inference_mode.
@torch.inference_mode(False)
def _run(
    estimator,
    X,
    *,
    batch_size: int | None,
    n_steps: int,
    attributions_only: bool = False,
    keep_maps: bool = True,
) -> dict:
    """Run the fitted network on ``X`` and collect every explanation array.

    With ``attributions_only``, only the attributions (``"attr"``, ``"abs"``)
    are collected: no attention maps, rollout or reference-row output, which
    ``feature_importances`` (run at the end of every ``fit``) does not use.
    Without ``keep_maps``, each batch's maps serve its rollout and are let
    go; ``parts["maps"]`` is then None.
    """
    from sklearn.base import is_classifier

    if batch_size is None:
        batch_size = default_batch_size(estimator, with_maps=not attributions_only)

    module = estimator.net_.module_
    token_columns = torch.as_tensor(estimator.encoder_.token_columns_)
    n_features = estimator.n_features_in_
    classifier = is_classifier(estimator)
    binary = classifier and len(estimator.classes_) == 2
    device = next(module.parameters()).device
    table = estimator.encoder_.encode(X)
    # The training rows' shares (set in fit), so that a row's attributions do
    # not depend on the rows explained with it; None for older pickles.
    rates = getattr(estimator, "_missing_rates", None)
    medians = getattr(estimator, "_numeric_medians", None)
    reference = reference_tokens(module.tokenizer, rates, medians).to(device)
    recorder = Recorder(module, token_columns)
    parts: dict[str, Any] = {
        k: [] for k in ("flow", "attr", "abs", "output", "base", "gates", "rows")
    }
    parts["fusion"] = []
    dataset = TabularDataset(table)
    parts["maps"] = MapStore(len(dataset)) if keep_maps else None
    start = 0
    with recorder.recording():
        for inputs, _ in TensorBatchIterator(dataset, batch_size):
            x_num = inputs["x_num"].to(device)
            x_cat = inputs["x_cat"].to(device)
            batch = len(x_num)
            with torch.no_grad():
                recorder.need_weights(not attributions_only)
                out, weights = recorder.run(x_num, x_cat)
                recorder.need_weights(False)
                if not torch.isfinite(out).all():
                    raise FloatingPointError(
                        "The model produced NaN or infinite outputs; its weights or "
                        "the input scale are broken. Refit with a lower lr."
                    )
                classes = None
                if classifier:
                    # Binary: always the positive class, so signs agree across rows.
                    classes = (
                        torch.ones(batch, dtype=torch.long, device=device)
                        if binary
                        else out.argmax(dim=1)
                    )
                tokens = recorder.tokens
                assert tokens is not None, _INTERNAL_ERROR
                if not attributions_only:
                    _collect(
                        parts,
                        _to_cpu(weights),
                        module,
                        recorder,
                        n_features,
                        batch,
                        start,
                    )
                    base_tokens = reference.expand_as(tokens).contiguous()
                    base = explained_output(
                        recorder.run(x_num, x_cat, base_tokens)[0], classes
                    )
                    parts["output"].append(
                        explained_output(out, classes).mean(dim=1).cpu().numpy()
                    )
                    parts["base"].append(base.mean(dim=1).cpu().numpy())
            with torch.enable_grad():
                attr = integrated_gradients(
                    recorder, x_num, x_cat, tokens, reference, classes, n_steps
                )
            col_attr = attr.new_zeros(batch, n_features, attr.shape[-1])
            col_attr.index_add_(1, token_columns, attr)
            parts["attr"].append(col_attr.mean(dim=-1).numpy())
            parts["abs"].append(col_attr.abs().mean(dim=-1).numpy())
            start += batch
    return parts


def _collect(
    parts, weights, module, recorder, n_features: int, batch: int, start: int
) -> None:
    """Add the rollout and block weights of the batch at row ``start`` to ``parts``."""
    streams = weights["streams"]
    token_columns = recorder.token_columns
    shares = stream_shares(weights["fusion"], len(streams), batch)
    flow = torch.zeros(batch, n_features, dtype=torch.float32)
    gates, rows = [], []
    maps = parts["maps"]
    for s, (branch, sw) in enumerate(zip(module.branches, streams, strict=True)):
        positions = branch.positions.cpu()
        stream_flow = rollout(branch, s, sw, recorder, batch) * shares[:, s : s + 1]
        flow.index_add_(1, token_columns[positions], stream_flow)
        for b, w in enumerate(sw["attention"]):
            if w is None:
                continue
            if w.dim() == 3:
                if maps is not None:
                    columns = token_columns[positions].numpy()
                    maps.add((s, b), columns, w.numpy(), start)
            elif w.dim() == 2:
                gates.append(w)
            else:
                rows.append(w)
    parts["flow"].append(flow.numpy())
    if gates:
        parts["gates"].append(torch.stack(gates).mean(dim=0).numpy())
    if rows:
        parts["rows"].append(torch.stack(rows).mean(dim=0).numpy())
    if weights["fusion"] is not None:
        parts["fusion"].append(shares.numpy())


def _to_cpu(weights):
    if isinstance(weights, torch.Tensor):
        return weights.detach().float().cpu()
    if isinstance(weights, dict):
        return {k: _to_cpu(v) for k, v in weights.items()}
    if isinstance(weights, list | tuple):
        return [_to_cpu(v) for v in weights]
    return weights


def _checked_table(estimator, X):
    from sklearn.utils.validation import check_is_fitted

    from ._validation import as_table, validate_data

    check_is_fitted(estimator)
    return validate_data(estimator, as_table(X), reset=False, skip_check_array=True)


def explain(
    estimator,
    X,
    *,
    n_steps: int = N_STEPS,
    batch_size: int | None = None,
    attention_maps: bool = True,
) -> Explanation:
    """Explain a fitted estimator's predictions on ``X``.

    See the module documentation (:mod:`sk_tabattn.explain`) for how each
    part is computed.

    Parameters
    ----------
    estimator : AttentionCNNClassifier or AttentionCNNRegressor
        A fitted estimator.
    X : {DataFrame, array-like} of shape (n_samples, n_features)
        Rows to explain.
    n_steps : int, default=8
        Points of the integrated-gradients path (at least 1); more make
        ``output - base_value`` and the sum of the attributions agree more
        closely.
    batch_size : int or None, default=None
        Rows per forward pass (at least 1); ``None`` uses the estimator's
        inference batch size (128 to 1024 rows, fewer the wider the table),
        or fewer still where a batch's attention maps would exceed 256 MiB
        (32 rows of 1,000 columns with 2 heads). It does not change the
        results (up to rounding).
    attention_maps : bool, default=True
        Whether to return the attention maps (``Explanation.attention_maps``),
        ``n_samples × n_columns²`` floats per attention block and stream
        (8 GB for 2,000 rows of 1,000 columns). With False, the list is
        empty and everything else is computed as with True, the feature
        attention included: use it to explain many rows of a wide table.

    Returns
    -------
    explanation : Explanation
        Feature attention and attribution per row, and the attention maps,
        channel gates, row weights and fusion weights of the network.

    Raises
    ------
    MemoryError
        If the attention maps would take over 80% of the memory available,
        before any row is run. Explain fewer rows at a time, or pass
        ``attention_maps=False``.

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
    >>> ex.attention_maps[0].mean().shape
    (4, 4)

    Without the maps, for many rows of a wide table:

    >>> ex = clf.explain(X, attention_maps=False)
    >>> ex.attention_maps, ex.feature_attention.shape
    ([], (150, 4))
    """
    from sklearn.base import is_classifier

    _check_positive_int(n_steps, "n_steps")
    _check_positive_int(batch_size, "batch_size", allow_none=True)
    _check_bool(attention_maps, "attention_maps")
    X = _checked_table(estimator, X)
    if attention_maps:
        check_map_memory(estimator, X.shape[0])  # before any row is run
    parts = _run(
        estimator,
        X,
        batch_size=batch_size,
        n_steps=n_steps,
        keep_maps=bool(attention_maps),
    )
    names = _feature_names(estimator, X)
    flow = np.concatenate(parts["flow"])
    index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(len(flow))
    module = estimator.net_.module_
    maps = []
    if parts["maps"] is not None:
        for (s, b), (columns, _, weights) in parts["maps"].maps.items():
            maps.append(AttentionMap(weights, [names[c] for c in columns], b, s))
    gates = None
    if parts["gates"]:
        gates = np.concatenate(parts["gates"])
        gates = pd.DataFrame(
            gates, index=index, columns=[f"channel_{c}" for c in range(gates.shape[1])]
        )
    rows = None
    if parts["rows"]:
        rows = pd.Series(np.concatenate(parts["rows"]), index=index, name="row_weight")
    fusion = None
    if parts["fusion"]:
        stream_names = [f"stream_{i}" for i in range(len(module.branches))]
        fusion = pd.DataFrame(np.concatenate(parts["fusion"]), columns=stream_names)
        if module.fusion.kind != "adaptive":
            fusion = fusion.iloc[:1].reset_index(drop=True)
        else:
            fusion.index = index
    if not is_classifier(estimator):
        target = "prediction, in standard deviations of the training target"
        if estimator.n_outputs_ > 1:
            target += f" (mean of the {estimator.n_outputs_} outputs)"
    elif len(estimator.classes_) == 2:
        target = f"logit of class {estimator.classes_[1]!r} minus the mean logit"
    else:
        target = "logit of each row's predicted class minus the mean logit"
    return Explanation(
        feature_attention=pd.DataFrame(flow, columns=names, index=index),
        feature_attribution=pd.DataFrame(
            np.concatenate(parts["attr"]), columns=names, index=index
        ),
        output=pd.Series(np.concatenate(parts["output"]), index=index, name="output"),
        base_value=pd.Series(
            np.concatenate(parts["base"]), index=index, name="base_value"
        ),
        target=target,
        attention_maps=maps,
        channel_gates=gates,
        row_weights=rows,
        fusion_weights=fusion,
    )


def feature_importances(
    estimator,
    X,
    *,
    max_rows: int = 1000,
    random_state=0,
    n_steps: int = N_STEPS,
) -> np.ndarray:
    """Mean absolute attribution of each input column over rows of ``X``.

    Parameters
    ----------
    estimator : AttentionCNNClassifier or AttentionCNNRegressor
        A fitted estimator.
    X : {DataFrame, array-like} of shape (n_samples, n_features)
        Rows to average over (the training data, for ``feature_importances_``).
    max_rows : int, default=1000
        At most this many rows (at least 1), drawn at random, are used.
    random_state : int, default=0
        Seed of the draw.
    n_steps : int, default=8
        Points of the integrated-gradients path (at least 1).

    Returns
    -------
    importances : ndarray of shape (n_features_in_,)
        Non-negative, summing to 1 (all zeros if the output depends on no
        column).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_tabattn import AttentionCNNClassifier
    >>> from sk_tabattn.explain import feature_importances
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = AttentionCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> imp = feature_importances(clf, X)
    >>> imp.shape, bool(np.isclose(imp.sum(), 1))
    ((4,), True)
    """
    _check_positive_int(max_rows, "max_rows")
    _check_positive_int(n_steps, "n_steps")
    X = _checked_table(estimator, X)
    n = _num_samples(X)
    if n > max_rows:
        rows = np.sort(np.random.RandomState(random_state).permutation(n)[:max_rows])
        X = _safe_indexing(X, rows)
    parts = _run(estimator, X, batch_size=None, n_steps=n_steps, attributions_only=True)
    importance = np.concatenate(parts["abs"]).mean(axis=0).astype(np.float64)
    total = importance.sum()
    return importance / total if total > 0 else np.zeros_like(importance)
