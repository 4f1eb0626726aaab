"""Explanations: feature attention, attribution, importances, permutation."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.inspection import permutation_importance

from sk_tabattn import (
    AttentionCNNClassifier,
    AttentionCNNRegressor,
    Explanation,
    _attribution,
    _rollout,
)
from sk_tabattn import _attention_maps as attention_maps_module
from sk_tabattn._recorder import Recorder
from sk_tabattn.nn import ATTENTION_BLOCKS

# `sk_tabattn.explain` is also the name of the function the package exports.
explain_module = sys.modules["sk_tabattn.explain"]

SIGNAL = ["c2", "c5"]
#: A real training run on the default architecture (2 conv blocks, kernel 3,
#: attention pooling): enough epochs to learn the signal, not tuned per test.
SIGNAL_PARAMS = {
    "d_token": 16,
    "n_heads": 4,
    "batch_size": 64,
    "max_epochs": 15,
    "random_state": 0,
}


def signal_table(n=500, seed=0):
    """Eight standard-normal columns; the target is additive in c2 and c5 only.

    The signal columns are not at the ends, so each has noise neighbours on
    both sides that a kernel-3 convolution mixes into its position.
    """
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(rng.normal(size=(n, 8)), columns=[f"c{i}" for i in range(8)])
    signal = X["c2"] + X["c5"]
    return X, signal + 0.1 * rng.normal(size=n), np.where(signal > 0, "yes", "no")


@pytest.fixture(scope="module")
def signal_data():
    return signal_table()


@pytest.fixture(scope="module")
def signal_model(signal_data):
    """Return the regressor fitted on the signal table, per attention type (cached)."""
    cache = {}

    def fitted(attention):
        if attention not in cache:
            X, y, _ = signal_data
            est = AttentionCNNRegressor(attention=attention, **SIGNAL_PARAMS)
            cache[attention] = est.fit(X, y)
        return cache[attention]

    return fitted


def top_two(importances, names):
    order = np.argsort(-np.asarray(importances))
    return sorted(np.asarray(names)[order[:2]].tolist())


# -- feature importances ---------------------------------------------------------------
@pytest.mark.parametrize("attention", sorted(ATTENTION_BLOCKS))
def test_importances_rank_the_two_signal_columns_first(signal_model, attention):
    # Required for self, multihead and mha; the other blocks are held to it too.
    est = signal_model(attention)
    imp = est.feature_importances_
    assert imp.shape == (8,)
    assert (imp >= 0).all()
    assert imp.sum() == pytest.approx(1.0)
    assert top_two(imp, est.feature_names_in_) == SIGNAL, (attention, imp.round(3))


@pytest.mark.parametrize("attention", ["self", "multihead", "mha"])
def test_classifier_importances_rank_the_signal_columns_first(signal_data, attention):
    X, _, labels = signal_data
    clf = AttentionCNNClassifier(attention=attention, **SIGNAL_PARAMS).fit(X, labels)
    imp = clf.feature_importances_
    assert top_two(imp, clf.feature_names_in_) == SIGNAL, (attention, imp.round(3))


def test_permutation_importance_works_and_agrees(signal_model, signal_data):
    est = signal_model("multihead")
    X, y, _ = signal_data
    result = permutation_importance(est, X, y, n_repeats=3, random_state=0)
    assert result.importances_mean.shape == (8,)
    assert top_two(result.importances_mean, X.columns) == SIGNAL


def test_permutation_importance_on_mixed_frame(mixed_frame, tiny_params):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    result = permutation_importance(clf, X, y, n_repeats=2, random_state=0)
    assert result.importances_mean.shape == (X.shape[1],)
    assert np.isfinite(result.importances_mean).all()


def test_attribution_follows_the_signal(signal_model, signal_data):
    # y rises with c2, so c2's signed attribution must rise with c2's value.
    est = signal_model("mha")
    X, _, _ = signal_data
    attribution = est.explain(X).feature_attribution
    assert np.corrcoef(attribution["c2"], X["c2"])[0, 1] > 0.9
    assert attribution["c2"].abs().mean() > 5 * attribution["c0"].abs().mean()


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_attributions_add_up_to_output_minus_base_value(mixed_frame, task):
    X, y = mixed_frame
    params = {"d_token": 8, "max_epochs": 20, "random_state": 0}
    if task == "regression":
        est = AttentionCNNRegressor(**params).fit(X, X["income"].rank().to_numpy())
    else:
        labels = y if task == "binary" else np.where(X["plan"] == "a", y, "maybe")
        est = AttentionCNNClassifier(**params).fit(X, labels)
    ex = explain_module.explain(est, X, n_steps=32)
    total = ex.feature_attribution.sum(axis=1)
    change = ex.output - ex.base_value
    assert change.abs().max() > 0.1  # the check below is not trivially true
    np.testing.assert_allclose(total, change, atol=0.02 * change.abs().max())


@pytest.mark.parametrize("attention", ["self", "row"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_feature_importances_skip_the_maps_and_match_explain(
    mixed_frame, tiny_params, task, attention, monkeypatch
):
    # Importances (computed in every fit) need only the attributions: no
    # attention maps, rollout or base-value pass. They must still be explain's
    # mean absolute attribution (one output here, so |mean| = mean |.|).
    X, y = mixed_frame
    params = {**tiny_params, "attention": attention}
    if task == "regression":
        est = AttentionCNNRegressor(**params).fit(X, X["income"].rank().to_numpy())
    else:
        est = AttentionCNNClassifier(**params).fit(X, y)
    expected = est.explain(X).feature_attribution.abs().mean().to_numpy()

    def no_maps(*args, **kwargs):
        raise AssertionError("feature_importances collected the attention maps")

    monkeypatch.setattr(explain_module, "_collect", no_maps)
    imp = explain_module.feature_importances(est, X, max_rows=len(X))
    np.testing.assert_allclose(imp, expected / expected.sum(), rtol=1e-5)
    refit = est.fit(X, y if task == "binary" else X["income"].rank().to_numpy())
    assert refit.feature_importances_.shape == (X.shape[1],)


def test_feature_importances_subsample_is_seeded(signal_model, signal_data):
    est = signal_model("self")
    X, _, _ = signal_data
    a = explain_module.feature_importances(est, X, max_rows=100, random_state=1)
    b = explain_module.feature_importances(est, X, max_rows=100, random_state=1)
    c = explain_module.feature_importances(est, X, max_rows=100, random_state=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.sum() == pytest.approx(1.0)


# -- the explanation object ------------------------------------------------------------
@pytest.mark.parametrize("attention", sorted(ATTENTION_BLOCKS))
def test_explain_reports_each_blocks_weights(mixed_frame, tiny_params, attention):
    X, y = mixed_frame
    # Categorical columns first: the network puts numeric tokens first, and the
    # explanation must map them back to the input order.
    X = X[["city", "age", "member", "plan", "income"]]
    X = X.set_axis([f"r{i}" for i in range(len(X))])
    clf = AttentionCNNClassifier(attention=attention, **tiny_params).fit(X, y)
    ex = clf.explain(X.iloc[:20])
    assert isinstance(ex, Explanation)
    names = list(X.columns)
    for table in (ex.feature_attention, ex.feature_attribution):
        assert list(table.columns) == names
        assert list(table.index) == list(X.index[:20])
        assert np.isfinite(table.to_numpy()).all()
    attention_share = ex.feature_attention.to_numpy()
    assert (attention_share >= 0).all()
    np.testing.assert_allclose(attention_share.sum(axis=1), 1, rtol=1e-5)
    positional = attention in ("self", "multihead", "mha")
    assert len(ex.attention_maps) == (1 if positional else 0)
    for amap in ex.attention_maps:
        assert amap.columns == names  # input order, not token order
        assert amap.weights.shape == (20, 5, 5)
        np.testing.assert_allclose(amap.weights.sum(axis=2), 1, rtol=1e-5)
        assert list(amap.mean().index) == names
    if attention == "se":
        assert ex.channel_gates.shape == (20, tiny_params["d_token"])
        assert ((ex.channel_gates > 0) & (ex.channel_gates < 1)).all().all()
    else:
        assert ex.channel_gates is None
    if attention == "row":
        assert list(ex.row_weights.index) == list(X.index[:20])
        assert (ex.row_weights > 0).all()
    else:
        assert ex.row_weights is None
    assert ex.fusion_weights is None
    assert "logit" in ex.target


def test_explain_each_position_has_one_map_per_block(numeric_data, tiny_params):
    X, y = numeric_data
    params = {**tiny_params, "n_blocks": 2, "attention_position": "each"}
    clf = AttentionCNNClassifier(attention="mha", **params).fit(X, y)
    ex = clf.explain(X[:7])
    assert [m.block for m in ex.attention_maps] == [0, 1]
    assert list(ex.feature_attention.columns) == [f"x{i}" for i in range(5)]
    assert isinstance(ex.feature_attention.index, pd.RangeIndex)


@pytest.mark.parametrize("fusion", ["softmax", "adaptive"])
def test_explain_reports_stream_fusion_weights(mixed_frame, tiny_params, fusion):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(streams="dtype", fusion=fusion, **tiny_params)
    ex = clf.fit(X, y).explain(X.iloc[:9])
    weights = ex.fusion_weights
    assert list(weights.columns) == ["stream_0", "stream_1"]
    assert len(weights) == (9 if fusion == "adaptive" else 1)
    np.testing.assert_allclose(weights.sum(axis=1), 1, rtol=1e-5)
    # One attention map per stream, over that stream's columns.
    assert [m.columns for m in ex.attention_maps] == [
        ["age", "income"],
        ["city", "member", "plan"],
    ]
    np.testing.assert_allclose(ex.feature_attention.sum(axis=1), 1, rtol=1e-5)


def test_regressor_explanation_for_several_outputs(regression_data, tiny_params):
    X, y = regression_data
    Y = np.c_[y, -y]
    reg = AttentionCNNRegressor(**tiny_params).fit(X, Y)
    ex = reg.explain(X[:4])
    assert ex.feature_attribution.shape == (4, 4)
    assert "standard deviations" in ex.target
    assert reg.feature_importances_.sum() == pytest.approx(1.0)


def test_explain_leaves_the_model_untouched(mixed_frame, tiny_params):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(attention="multihead", **tiny_params).fit(X, y)
    module = clf.net_.module_
    module.train()  # explain must restore whatever mode it found
    before = clf.predict_proba(X)
    module.train()
    grads = [None if p.grad is None else p.grad.clone() for p in module.parameters()]
    clf.explain(X)
    assert module.training
    for p, g in zip(module.parameters(), grads, strict=True):
        assert (p.grad is None) if g is None else torch.equal(p.grad, g)
    assert not any(getattr(m, "need_weights", False) for m in module.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in module.modules())
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_explain_keeps_a_frames_integer_column_labels(tiny_params):
    # pd.read_csv(header=None) names columns 0, 1, ...: scikit-learn keeps no
    # feature_names_in_ for them, and the tables must still join back to X.
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=[2, 5, 9])
    clf = AttentionCNNClassifier(**tiny_params).fit(X, X[5] > 0)
    ex = clf.explain(X.iloc[:4])
    assert list(ex.feature_attribution.columns) == [2, 5, 9]
    assert list(ex.feature_attention.columns) == [2, 5, 9]
    assert ex.attention_maps[0].columns == [2, 5, 9]
    assert list(clf.explain(X.to_numpy()[:4]).feature_attribution.columns) == [
        "x0",
        "x1",
        "x2",
    ]


def test_explain_needs_a_fitted_estimator_and_the_fit_columns(mixed_frame, tiny_params):
    X, y = mixed_frame
    with pytest.raises(NotFittedError):
        AttentionCNNClassifier().explain(X)
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    with pytest.raises(ValueError, match="Feature names"):
        clf.explain(X.rename(columns={"age": "years"}))


# -- the conv step of the rollout ------------------------------------------------------
def conv_mixing(conv, h):
    """The conv's mixing matrix M, ``[B, L, L]``, row by row from the flow step.

    ``_conv_flow`` returns ``flow @ (M + I) / 2``; a one-hot flow on position i
    gives ``(M[i] + e_i) / 2``.
    """
    length = h.shape[-1]
    eye = torch.eye(length)
    rows = [
        2 * _rollout._conv_flow(conv, h, eye[i : i + 1].expand(len(h), -1)) - eye[i]
        for i in range(length)
    ]
    return torch.stack(rows, dim=1)  # [B, L, L]


def dense_conv_mixing(conv, h):
    """The mixing matrix built densely, as the rollout once did: the oracle."""
    weight = conv.weight.detach().float()
    batch, _, length = h.shape
    kernel = weight.shape[-1]
    left = (kernel - 1) // 2
    norms = torch.einsum("ock,bcl->bkol", weight, h).norm(dim=2)
    mixing = torch.zeros(batch, length, length)
    for o in range(kernel):
        d = o - left
        i = torch.arange(max(0, -d), max(max(0, -d), min(length, length - d)))
        if len(i):
            mixing[:, i, i + d] = norms[:, o, i + d]
    total = mixing.sum(dim=-1, keepdim=True)
    eye = torch.eye(length).expand(batch, -1, -1)
    return torch.where(total > 0, mixing / total.clamp_min(1e-12), eye)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel:UserWarning")
@pytest.mark.parametrize("kernel_size", [2, 3, 4])
def test_conv_mixing_follows_torchs_same_padding(kernel_size):
    # A one-tap convolution moves information from position i + d to position i;
    # the mixing matrix must say the same, whatever torch's padding convention.
    length = 6
    for tap in range(kernel_size):
        conv = torch.nn.Conv1d(2, 2, kernel_size, padding="same", bias=False)
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight[:, :, tap] = torch.eye(2)
        h = torch.ones(1, 2, length)
        mixing = conv_mixing(conv, h)[0]
        for j in range(length):
            impulse = torch.zeros(1, 2, length)
            impulse[0, :, j] = 1.0
            reached = conv(impulse)[0].abs().sum(dim=0) > 0  # outputs j feeds
            for i in range(length):
                if reached[i]:
                    assert mixing[i, j] == pytest.approx(1.0)
        np.testing.assert_allclose(mixing.sum(dim=1), 1)  # padding rows: identity


def test_conv_mixing_weighs_neighbours_by_their_contribution():
    conv = torch.nn.Conv1d(1, 1, 3, padding="same", bias=False)
    with torch.no_grad():
        conv.weight[:] = torch.tensor([[[1.0, 1.0, 1.0]]])
    h = torch.tensor([[[1.0, 3.0, 0.0, 0.0]]])
    mixing = conv_mixing(conv, h)[0]
    np.testing.assert_allclose(mixing[0], [0.25, 0.75, 0, 0])
    np.testing.assert_allclose(mixing[1], [0.25, 0.75, 0, 0])
    np.testing.assert_allclose(mixing[2], [0, 1, 0, 0])
    np.testing.assert_allclose(mixing[3], [0, 0, 0, 1])  # nothing flows: identity


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel:UserWarning")
@pytest.mark.parametrize("kernel_size", [1, 2, 3, 5])
@pytest.mark.parametrize("length", [1, 3, 9])
def test_conv_flow_is_the_dense_mixing_product(kernel_size, length):
    # The banded product equals flow @ (M + I) / 2 with M built densely,
    # including rows where nothing flows (zero inputs) and kernels longer
    # than the row.
    gen = torch.Generator().manual_seed(kernel_size * 10 + length)
    conv = torch.nn.Conv1d(3, 4, kernel_size, padding="same")
    h = torch.randn(5, 3, length, generator=gen)
    h[1] = 0.0  # no flow anywhere in this row
    h[2, :, 0] = 0.0
    flow = torch.rand(5, length, generator=gen)
    flow /= flow.sum(dim=1, keepdim=True)
    dense = dense_conv_mixing(conv, h)
    expected = torch.bmm(flow.unsqueeze(1), 0.5 * (dense + torch.eye(length)))[:, 0]
    got = _rollout._conv_flow(conv, h, flow)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(got.sum(dim=1), torch.ones(5))  # flow is conserved


def test_explain_a_row_shorter_than_the_kernel(tiny_params):
    # One column and kernel_size=5: two of the kernel's taps reach only padding.
    # The rollout once built an arange with inverted bounds here and raised.
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"x": rng.normal(size=80)})
    y = (X["x"] > 0).astype(int)
    clf = AttentionCNNClassifier(**{**tiny_params, "kernel_size": 5}).fit(X, y)
    ex = clf.explain(X.iloc[:4])
    np.testing.assert_allclose(ex.feature_attention.to_numpy(), 1.0)
    assert clf.feature_importances_.tolist() == [1.0]


# -- the reference row of the attribution ---------------------------------------------
def test_reference_tokens_are_the_tokenizers_own(mixed_frame, tiny_params):
    # Numeric columns at encoded value 0; each categorical column at the mean of
    # the tokens of its categories (index 0, missing/unknown, left out).
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    tokenizer = clf.net_.module_.tokenizer
    reference = _attribution.reference_tokens(tokenizer)
    cards = clf.encoder_.cardinalities_
    with torch.no_grad():
        zero = tokenizer(torch.zeros(1, 2), torch.ones(1, len(cards), dtype=torch.long))
        torch.testing.assert_close(reference[:2], zero[0, :2])
        for j, card in enumerate(cards):
            codes = torch.ones(card - 1, len(cards), dtype=torch.long)
            codes[:, j] = torch.arange(1, card)
            tokens = tokenizer(torch.zeros(card - 1, 2), codes)[:, 2 + j]
            torch.testing.assert_close(reference[2 + j], tokens.mean(dim=0))


def test_reference_mixes_each_columns_missing_token_by_its_missing_rate(
    mixed_frame, tiny_params
):
    # Rate 0 keeps the observed reference bit for bit (columns without missing
    # values are attributed as before); rate 1 is the column's missing token
    # (NaN for numeric columns, index 0 for categorical ones); in between, the
    # average token of a column missing at that rate.
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    tokenizer = clf.net_.module_.tokenizer
    n_tokens = 2 + len(clf.encoder_.cardinalities_)
    observed = _attribution.reference_tokens(tokenizer)
    zero = _attribution.reference_tokens(tokenizer, np.zeros(n_tokens))
    assert torch.equal(zero, observed)
    missing = _attribution.reference_tokens(tokenizer, np.ones(n_tokens))
    with torch.no_grad():
        x_cat = torch.zeros(1, n_tokens - 2, dtype=torch.long)
        nan_row = tokenizer(torch.full((1, 2), float("nan")), x_cat)[0]
    torch.testing.assert_close(missing, nan_row)
    rate = torch.tensor([0.25, 0.0, 0.5] + [0.0] * (n_tokens - 3))
    mixed = _attribution.reference_tokens(tokenizer, rate.numpy())
    torch.testing.assert_close(
        mixed, (1 - rate[:, None]) * observed + rate[:, None] * nan_row
    )


@pytest.mark.parametrize("attention", sorted(ATTENTION_BLOCKS))
def test_a_column_missing_in_every_row_gets_no_attribution(tiny_params, attention):
    # With the reference at encoded value 0, every missing value differed from
    # it, and an all-NaN column took up to 17% of the importances.
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "empty": np.nan,
            "nones": pd.Series([None] * n, dtype=object),  # numeric, all missing
            "city": rng.choice(["x", "y"], n),
            "gaps": np.where(rng.rand(n) < 0.3, np.nan, rng.normal(size=n)),
        }
    )
    params = {**tiny_params, "attention": attention, "max_epochs": 2}
    reg = AttentionCNNRegressor(**params).fit(X, 2 * X["a"] + X["gaps"].isna())
    importances = dict(
        zip(reg.feature_names_in_, reg.feature_importances_, strict=True)
    )
    assert importances["empty"] == importances["nones"] == 0.0
    assert importances["a"] > 0 and importances["gaps"] > 0
    ex = explain_module.explain(reg, X.iloc[:40], n_steps=32)
    assert (ex.feature_attribution[["empty", "nones"]] == 0).all().all()
    change = ex.output - ex.base_value
    assert change.abs().max() > 0.03  # the check below is not trivially true
    np.testing.assert_allclose(
        ex.feature_attribution.sum(axis=1), change, atol=0.02 * change.abs().max()
    )


def test_reference_uses_the_training_rows_missing_rates(tiny_params):
    # A row's attributions must not depend on the rows explained with it.
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "gaps": np.where(rng.rand(n) < 0.3, np.nan, rng.normal(size=n)),
            "city": rng.choice(["x", "y", None], n),
        }
    )
    reg = AttentionCNNRegressor(**tiny_params).fit(X, X["a"] + X["gaps"].isna())
    expected = [0.0, X["gaps"].isna().mean(), X["city"].isna().mean()]
    np.testing.assert_allclose(reg._missing_rates, expected, rtol=1e-6)
    row = X["gaps"].isna().to_numpy().argmax()  # a row whose "gaps" is missing
    alone = explain_module.explain(reg, X.iloc[[row]])
    together = explain_module.explain(reg, X, batch_size=7)
    np.testing.assert_allclose(
        alone.feature_attribution.to_numpy()[0],
        together.feature_attribution.to_numpy()[row],
        rtol=1e-5,
        atol=1e-6,
    )
    assert alone.feature_attribution["gaps"].abs().iloc[0] > 0


# -- wide tables: explaining without the maps, and the memory guard -------------------
@pytest.mark.parametrize("attention", ["multihead", "se", "row"])
def test_explain_without_maps_keeps_everything_else(
    mixed_frame, tiny_params, attention, monkeypatch
):
    X, y = mixed_frame
    params = {**tiny_params, "max_epochs": 2, "attention": attention}
    clf = AttentionCNNClassifier(streams="dtype", fusion="adaptive", **params)
    full = clf.fit(X, y).explain(X)

    def no_maps(*args, **kwargs):
        raise AssertionError("explain kept the maps with attention_maps=False")

    monkeypatch.setattr(attention_maps_module.MapStore, "add", no_maps)
    lean = clf.explain(X, attention_maps=False)
    assert lean.attention_maps == []
    for name in ("feature_attention", "feature_attribution", "output", "base_value"):
        np.testing.assert_allclose(getattr(lean, name), getattr(full, name), rtol=1e-6)
    assert (lean.channel_gates is None) == (attention != "se")
    assert (lean.row_weights is None) == (attention != "row")
    for name in ("channel_gates", "row_weights", "fusion_weights"):
        if getattr(full, name) is not None:
            np.testing.assert_allclose(getattr(lean, name), getattr(full, name))
    function = explain_module.explain(clf, X, batch_size=7, attention_maps=False)
    assert function.attention_maps == []
    np.testing.assert_allclose(
        function.feature_attention, full.feature_attention, rtol=1e-5
    )


def test_maps_are_in_input_column_order_whatever_the_batches(mixed_frame, tiny_params):
    # The maps are written batch by batch into one array, reordered from the
    # network's token order (numeric columns first) to the input order.
    X, y = mixed_frame
    X = X[["city", "age", "member", "plan", "income"]]
    clf = AttentionCNNClassifier(attention="mha", **tiny_params).fit(X, y)
    module = clf.net_.module_
    token_columns = torch.as_tensor(clf.encoder_.token_columns_)
    recorder = Recorder(module, token_columns)
    table = clf.encoder_.encode(X)
    with recorder.recording(), torch.no_grad():
        recorder.need_weights(True)
        _, weights = recorder.run(
            torch.as_tensor(table.x_num), torch.as_tensor(table.x_cat)
        )
    raw = weights["streams"][0]["attention"][0].numpy()  # token order
    expected = np.empty_like(raw)
    cols = token_columns.numpy()
    expected[:, cols[:, None], cols] = raw
    for batch_size in (None, 7):
        (amap,) = explain_module.explain(clf, X, batch_size=batch_size).attention_maps
        assert amap.columns == list(X.columns)
        np.testing.assert_allclose(amap.weights, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("attention", sorted(ATTENTION_BLOCKS))
def test_map_memory_estimate_is_the_size_of_the_maps(
    mixed_frame, tiny_params, attention
):
    # Two streams, two blocks each: four maps of 2x2 and 3x3 for the
    # positional blocks, none for the others; the estimate, read from the
    # module before running it, must be what explain returns.
    X, y = mixed_frame
    params = {**tiny_params, "max_epochs": 1, "n_blocks": 2, "attention": attention}
    clf = AttentionCNNClassifier(streams="dtype", attention_position="each", **params)
    ex = clf.fit(X, y).explain(X.iloc[:30])
    estimate = attention_maps_module.attention_map_bytes(clf, 30)
    assert estimate == sum(m.weights.nbytes for m in ex.attention_maps)
    positional = attention in ("self", "multihead", "mha")
    assert estimate == (30 * 2 * (2 * 2 + 3 * 3) * 4 if positional else 0)


def test_explain_refuses_maps_larger_than_the_available_memory(
    mixed_frame, tiny_params, monkeypatch
):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**{**tiny_params, "max_epochs": 1}).fit(X, y)
    assert attention_maps_module.attention_map_bytes(clf, 150) == 150 * 5 * 5 * 4
    monkeypatch.setattr(attention_maps_module, "available_memory", lambda: 10_000)
    run = explain_module._run

    def running(*args, **kwargs):
        assert kwargs.get("keep_maps") is False, "explain ran before the check"
        return run(*args, **kwargs)

    monkeypatch.setattr(explain_module, "_run", running)
    message = (
        "The attention maps of 150 rows would take 15.0 kB, more than 80% of the "
        "10.0 kB of memory available. Explain at most 80 rows at a time, or pass "
        "attention_maps=False to get the rest of the explanation, feature "
        "attention included, without the maps."
    )
    with pytest.raises(MemoryError, match=re.escape(message)):
        clf.explain(X)
    with pytest.raises(MemoryError, match=re.escape(message)):
        explain_module.explain(clf, X, batch_size=7)
    # The remedies work: no maps, or as many rows as the message says.
    assert clf.explain(X, attention_maps=False).attention_maps == []
    monkeypatch.setattr(explain_module, "_run", run)
    assert len(clf.explain(X.iloc[:80]).attention_maps) == 1
    with pytest.raises(MemoryError, match="Explain at most 80 rows"):
        clf.explain(X.iloc[:81])  # room is left for the rest of explain
    monkeypatch.setattr(attention_maps_module, "available_memory", lambda: 50)
    with pytest.raises(MemoryError, match="Even one row's maps do not fit: pass"):
        clf.explain(X.iloc[:1])


@pytest.mark.parametrize("attention", ["se", "row", "none"])
def test_memory_guard_ignores_blocks_without_maps(
    mixed_frame, tiny_params, attention, monkeypatch
):
    X, y = mixed_frame
    params = {**tiny_params, "max_epochs": 1, "attention": attention}
    clf = AttentionCNNClassifier(**params).fit(X, y)
    monkeypatch.setattr(attention_maps_module, "available_memory", lambda: 0)
    assert clf.explain(X).feature_attention.shape == X.shape


def test_memory_guard_is_skipped_when_memory_is_unknown(
    mixed_frame, tiny_params, monkeypatch
):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**{**tiny_params, "max_epochs": 1}).fit(X, y)
    monkeypatch.setattr(attention_maps_module, "available_memory", lambda: None)
    assert len(clf.explain(X).attention_maps) == 1


@pytest.mark.parametrize("attention", ["multihead", "se"])
def test_default_batches_keep_the_maps_they_compute_small(
    mixed_frame, tiny_params, attention, monkeypatch
):
    # Explain computes the maps predict's fused kernels never hold; with the
    # batches of predict, 1,000 columns took 3.1 GB more memory (ad hoc).
    X, y = mixed_frame
    params = {**tiny_params, "max_epochs": 1, "attention": attention}
    clf = AttentionCNNClassifier(**params).fit(X, y)
    default = clf.net_.iterator_valid__batch_size  # predict's
    assert default > 10
    full = clf.explain(X)
    batches = []
    iterator = explain_module.TensorBatchIterator

    def recording(dataset, batch_size):
        batches.append(batch_size)
        return iterator(dataset, batch_size)

    monkeypatch.setattr(explain_module, "TensorBatchIterator", recording)
    # 5 columns, 2 heads: 50 floats of maps a row; a budget of 500 is 10 rows.
    monkeypatch.setattr(attention_maps_module, "EXPLAIN_MAP_FLOATS", 500)
    small = clf.explain(X)
    expected = 10 if attention == "multihead" else default  # se computes no map
    assert batches == [expected]
    np.testing.assert_allclose(
        small.feature_attribution, full.feature_attribution, rtol=1e-5, atol=1e-6
    )
    explain_module.explain(clf, X, batch_size=64)  # an explicit size is kept
    explain_module.feature_importances(clf, X)  # no maps computed: predict's
    assert batches[1:] == [64, default]


def test_explain_refuses_a_non_bool_attention_maps(mixed_frame, tiny_params):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**{**tiny_params, "max_epochs": 1}).fit(X, y)
    message = "attention_maps must be a bool. Got 'no' instead."
    with pytest.raises(TypeError, match=re.escape(message)):
        clf.explain(X, attention_maps="no")
    with pytest.raises(TypeError, match="positional argument"):
        clf.explain(X, False)  # keyword-only, as in scikit-learn


# -- parameter checks ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function", "parameter", "value", "error"),
    [
        ("explain", "n_steps", 0, ValueError),
        ("explain", "n_steps", -3, ValueError),
        ("explain", "n_steps", 2.5, TypeError),
        ("explain", "batch_size", 0, ValueError),
        ("explain", "batch_size", True, TypeError),
        ("feature_importances", "n_steps", 0, ValueError),
        ("feature_importances", "max_rows", 0, ValueError),
        ("feature_importances", "max_rows", "all", TypeError),
    ],
)
def test_explain_and_importances_refuse_bad_sizes(
    mixed_frame, tiny_params, function, parameter, value, error
):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**{**tiny_params, "max_epochs": 1}).fit(X, y)
    allowed = (
        "a positive int or None" if parameter == "batch_size" else "a positive int"
    )
    message = f"{parameter} must be {allowed}. Got {value!r} instead."
    with pytest.raises(error, match=re.escape(message)):
        getattr(explain_module, function)(clf, X, **{parameter: value})
