"""The estimators' own behaviour: targets, determinism, training, parameters."""

from __future__ import annotations

import pickle
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback, EpochScoring

import sk_tabattn._base as base
from sk_tabattn import (
    ATTENTION_BLOCKS,
    AttentionCNNClassifier,
    AttentionCNNRegressor,
    TooFewSamplesWarning,
)
from sk_tabattn._base import auto_batch_size, inference_batch_size
from sk_tabattn.data import TabularDataset
from sk_tabattn.encoding import EncodedTable
from sk_tabattn.nn.blocks import READOUT_WIDTH


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["cat", "dog"]),
        np.array([3, 7, 11]),
        np.array([True, False]),
        np.array(["a", "b", "c", "d"]),
    ],
    ids=["str-binary", "int-multiclass", "bool", "str-multiclass"],
)
def test_classifier_returns_the_original_labels(labels, tiny_params):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 4))
    y = labels[
        np.argmax(X[:, : len(labels)] if len(labels) <= 4 else X, axis=1) % len(labels)
    ]
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.sort(np.unique(y)))
    proba = clf.predict_proba(X)
    assert proba.shape == (80, len(labels)) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    pred = clf.predict(X)
    assert set(pred) <= set(labels.tolist())
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])


def test_classifier_learns(numeric_data, tiny_params):
    X, y = numeric_data
    clf = AttentionCNNClassifier(**{**tiny_params, "max_epochs": 30, "lr": 3e-3})
    assert clf.fit(X, y).score(X, y) > 0.9


def test_predict_log_proba_is_finite_where_predict_proba_underflows(
    mixed_frame, tiny_params
):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    log_proba = clf.predict_log_proba(X)
    np.testing.assert_allclose(np.exp(log_proba), clf.predict_proba(X), rtol=1e-5)
    # Outputs 200 apart: float32's softmax gives the other class exactly 0.
    last = clf.net_.module_.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([100.0, -100.0]))
    assert (clf.predict_proba(X)[:, 1] == 0).all()
    expected = [[0.0, -200.0]] * len(X)
    np.testing.assert_allclose(clf.predict_log_proba(X), expected, atol=1e-6)


@pytest.mark.parametrize("two_d", [False, True])
def test_regressor_predicts_in_the_original_scale(regression_data, tiny_params, two_d):
    X, y = regression_data
    target = np.column_stack([y, -y / 10]) if two_d else y
    params = {**tiny_params, "max_epochs": 40, "lr": 3e-3}
    reg = AttentionCNNRegressor(**params).fit(X, target)
    pred = reg.predict(X)
    assert pred.shape == target.shape and pred.dtype == np.float64
    assert reg.n_outputs_ == (2 if two_d else 1)
    assert reg.score(X, target) > 0.8
    # targets are around 100 and -10: the network was trained on standardised ones
    np.testing.assert_allclose(pred.mean(axis=0), target.mean(axis=0), rtol=0.05)


def test_regressor_accepts_a_dataframe_target(regression_data, tiny_params):
    X, y = regression_data
    target = pd.DataFrame({"a": y, "b": 2 * y})
    pred = AttentionCNNRegressor(**tiny_params).fit(X, target).predict(X)
    assert pred.shape == (len(y), 2)


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_same_random_state_gives_identical_predictions(Est, mixed_frame, tiny_params):
    X, y = mixed_frame
    if Est is AttentionCNNRegressor:
        y = (y == "yes").astype(float) + X["income"].to_numpy() / 1e5
    params = {**tiny_params, "early_stopping": True, "dropout": 0.2}
    first = Est(**params).fit(X, y)
    second = Est(**params).fit(X, y)
    out = "predict_proba" if Est is AttentionCNNClassifier else "predict"
    np.testing.assert_array_equal(getattr(first, out)(X), getattr(second, out)(X))
    third = Est(**{**params, "random_state": 1}).fit(X, y)
    assert not np.array_equal(getattr(first, out)(X), getattr(third, out)(X))


def test_fit_leaves_the_global_random_states_alone(numeric_data, tiny_params):
    X, y = numeric_data
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()  # noqa: NPY002  (the legacy global state)
    AttentionCNNClassifier(**{**tiny_params, "early_stopping": True}).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])


def test_torchs_default_dtype_changes_nothing(mixed_frame, tiny_params):
    X, y = mixed_frame
    params = {**tiny_params, "attention": "multihead"}
    plain = AttentionCNNClassifier(**params).fit(X, y)
    torch.set_default_dtype(torch.float64)
    try:
        clf = AttentionCNNClassifier(**params).fit(X, y)
        explained = clf.explain(X.iloc[:8])
    finally:
        torch.set_default_dtype(torch.float32)
    assert {p.dtype for p in clf.net_.module_.parameters()} == {torch.float32}
    np.testing.assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(
        explained.feature_attribution, plain.explain(X.iloc[:8]).feature_attribution
    )


def test_device_may_be_a_torch_device(mixed_frame, tiny_params):
    X, y = mixed_frame
    named = AttentionCNNClassifier(**tiny_params).fit(X, y)
    params = {**tiny_params, "device": torch.device("cpu")}
    clf = clone(AttentionCNNClassifier(**params)).fit(X, y)
    assert clf.get_params()["device"] == torch.device("cpu")
    np.testing.assert_array_equal(clf.predict_proba(X), named.predict_proba(X))
    if not torch.cuda.is_available():
        cuda = AttentionCNNClassifier(**{**tiny_params, "device": torch.device("cuda")})
        with pytest.raises(ValueError, match="this torch has no cuda device here"):
            cuda.fit(X, y)


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_fit_and_explain_work_without_autograd(mode, mixed_frame, tiny_params):
    X, y = mixed_frame
    plain = AttentionCNNClassifier(**tiny_params).fit(X, y)
    with mode():
        clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
        explained = clf.explain(X.iloc[:8])
    np.testing.assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))
    np.testing.assert_array_equal(
        explained.feature_attribution, plain.explain(X.iloc[:8]).feature_attribution
    )


@pytest.mark.parametrize("name", sorted(ATTENTION_BLOCKS))
def test_predictions_do_not_depend_on_the_batch(name, mixed_frame, tiny_params):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(
        **{**tiny_params, "attention": name, "attention_position": "each"}
    ).fit(X, y)
    full = clf.predict_proba(X)
    single = np.vstack([clf.predict_proba(X.iloc[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(single, full[:10], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X.iloc[::-1])[::-1], full, atol=1e-6)


# "full" is unscaled on purpose: with "none", fit warns about it.
@pytest.mark.filterwarnings("ignore:numeric_transform='none' passes")
@pytest.mark.parametrize("transform", ["quantile", "none"])
@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_a_missing_value_training_never_had_reads_as_the_median(
    Est, transform, tiny_params
):
    # "full", "count" and "city" are never missing in fit: their missing tokens
    # learnt nothing, and a missing value there used to move predictions by
    # whatever the random initial token did (up to 0.7 in probability on UCI
    # Adult). Now it reads as the median training value (the lower middle
    # one: 120 rows), exactly, ties ("count") and unscaled columns included.
    rng = np.random.RandomState(0)
    n = 120
    X = pd.DataFrame(
        {
            "full": rng.normal(size=n) * 1000 + 5000,
            "count": rng.poisson(0.7, n).astype(float),
            "gaps": np.where(rng.rand(n) < 0.3, np.nan, rng.normal(size=n)),
            "city": rng.choice(["x", "y", "z"], n).astype(object),
            "town": rng.choice(["u", "v", None], n).astype(object),
        }
    )
    y = X["full"] / 1000 + X["count"] + X["gaps"].fillna(0) + (X["city"] == "x")
    if Est is AttentionCNNClassifier:
        y = y > y.median()
    est = Est(**tiny_params, numeric_transform=transform).fit(X, y)
    tokenizer = est.net_.module_.tokenizer
    missing = tokenizer.missing_tokens()
    neutral = tokenizer.neutral_tokens(torch.as_tensor(est._numeric_medians))
    never = torch.tensor([True, True, False, True, False])  # in token order
    torch.testing.assert_close(missing[never], neutral[never], rtol=0, atol=0)
    assert not torch.isclose(missing[~never], neutral[~never]).all(dim=1).any()
    # A numeric missing token starts at the median's token and learns a shift
    # from there where training had missing values ("gaps").
    torch.testing.assert_close(
        tokenizer.num_fill, torch.as_tensor(est._numeric_medians), rtol=0, atol=0
    )
    shift_norms = tokenizer.num_missing_shift.norm(dim=1)
    assert shift_norms[2] > 0 and (shift_norms[:2] == 0).all()

    def predict(rows):
        if Est is AttentionCNNClassifier:
            return est.predict_proba(rows)
        return est.predict(rows)

    medians = {c: np.sort(X[c])[n // 2 - 1] for c in ("full", "count")}
    rows = X.iloc[:20].assign(full=np.nan, count=np.nan)
    rows.loc[rows.index[:10], "city"] = None
    at_median = rows.assign(**medians)
    np.testing.assert_array_equal(predict(rows.iloc[10:]), predict(at_median.iloc[10:]))
    # The median is the reference of the attributions, so these values, and
    # a missing category where fit had none, get none.
    for frame in (rows, at_median):
        attribution = est.explain(frame).feature_attribution
        assert (attribution[["full", "count"]] == 0).all().all()
        assert (attribution["city"].iloc[:10] == 0).all()
        assert (attribution["city"].iloc[10:] != 0).all()
    assert (est.explain(X).feature_attribution["full"] != 0).sum() == n - 1


def test_a_category_seen_only_in_validation_rows_reads_as_the_typical_one(
    tiny_params, monkeypatch
):
    # With min_frequency=1 the encoder gives "w" (3 rows) its own index, but
    # all its rows are validation rows: its embedding learnt nothing and used
    # to keep its random initial value. Now it is the column's mean category,
    # as a missing or unknown value is in a column never missing in fit.
    rng = np.random.RandomState(0)
    n = 150
    city = rng.choice(["x", "y", "z"], n).astype(object)
    city[[5, 40, 90]] = "w"
    X = pd.DataFrame({"a": rng.normal(size=n), "city": city})
    y = (X["a"] + (X["city"] == "x") > 0.5).astype(int)
    split = AttentionCNNClassifier._split

    def w_in_validation(self, n_samples, y_enc, rng):
        train_idx, valid_idx = split(self, n_samples, y_enc, rng)
        w = np.flatnonzero(city == "w")
        return np.setdiff1d(train_idx, w), np.union1d(valid_idx, w)

    monkeypatch.setattr(AttentionCNNClassifier, "_split", w_in_validation)
    params = {**tiny_params, "early_stopping": True, "min_frequency": 1}
    clf = AttentionCNNClassifier(**params).fit(X, y)
    assert "w" in clf.encoder_.categories_[0]
    rows = X.iloc[:10]
    as_w, as_missing, as_unknown = (
        clf.predict_proba(rows.assign(city=value)) for value in ("w", None, "q")
    )
    np.testing.assert_array_equal(as_w, as_missing)
    np.testing.assert_array_equal(as_w, as_unknown)
    # Trained categories keep their own embeddings.
    assert not np.allclose(clf.predict_proba(rows.assign(city="x")), as_w)
    assert (clf.explain(rows.assign(city="w")).feature_attribution["city"] == 0).all()


def test_dataset_medians_and_never_missing_columns():
    nan = np.nan
    x_num = np.array(
        [[1, nan, nan, 5], [4, nan, 2, 5], [3, nan, 7, 5], [2, nan, 9, 5]],
        dtype=np.float32,
    )
    x_cat = np.array([[1, 0], [2, 1], [1, 3], [3, 2]])
    dataset = TabularDataset(EncodedTable(x_num, x_cat))
    # The lower middle value of the observed ones; 0 for a column all missing.
    np.testing.assert_array_equal(dataset.numeric_medians(), [2, 0, 7, 5])
    assert dataset.numeric_medians().dtype == np.float32
    expected = [True, False, False, True, True, False]
    assert dataset.never_missing().tolist() == expected
    # Index 0 of the second column is used, index 3 of the first is not.
    seen = dataset.seen_categories([4, 4])
    assert seen.tolist() == [False, True, True, True, True, True, True, True]
    assert dataset.seen_categories([5, 4])[:5].tolist() == [
        False, True, True, True, False
    ]  # fmt: skip


def test_inference_batches_shrink_with_the_attention_maps_of_wide_tables():
    # 20 tokens x 32 channels + 4 heads x 20 x 20 maps = 2,240 floats a row.
    assert inference_batch_size([20], 32, "multihead", 4) == 512
    assert inference_batch_size([20], 32, "none", 4) == 1024
    assert inference_batch_size([200], 32, "multihead", 4) == 128
    assert inference_batch_size([200], 32, "mha", 4) == 128
    # One head's maps are a quarter of four heads'.
    assert inference_batch_size([60], 32, "self", 4) == 256
    assert inference_batch_size([60], 32, "multihead", 4) == 128
    # The widest stream counts, not the sum of the streams.
    assert inference_batch_size([20, 3], 32, "multihead", 4) == 512
    for name, block in ATTENTION_BLOCKS.items():
        assert block.weight_floats(10, 2) >= 0, name


def test_predict_in_chunks_equals_predict_at_once(
    mixed_frame, tiny_params, monkeypatch
):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    assert clf.net_.iterator_valid__batch_size == 1024
    at_once = clf.predict_proba(X)
    # 300 values / 6 columns = 50 rows, cut to whole batches of 16: chunks of
    # 48 rows, and a last one of 6.
    clf.net_.iterator_valid__batch_size = 16
    monkeypatch.setattr(base, "PREDICT_CHUNK_VALUES", 300)
    calls = []
    encode = clf.encoder_.encode
    monkeypatch.setattr(
        clf.encoder_, "encode", lambda chunk: calls.append(len(chunk)) or encode(chunk)
    )
    np.testing.assert_allclose(clf.predict_proba(X), at_once, rtol=1e-5, atol=1e-6)
    assert calls == [48] * 3 + [6]


def test_verbose_0_prints_nothing_and_verbose_1_prints_epochs(
    numeric_data, tiny_params, capsys
):
    X, y = numeric_data
    AttentionCNNClassifier(**{**tiny_params, "early_stopping": True}).fit(X, y)
    assert capsys.readouterr().out == ""
    AttentionCNNClassifier(**{**tiny_params, "verbose": 1}).fit(X, y)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out
    assert len(re.findall(r"^\s+\d+\s", out, flags=re.M)) == tiny_params["max_epochs"]


@pytest.mark.parametrize("attention", ["none", "row", "multihead"])
def test_a_last_batch_of_one_row_trains(attention, tiny_params):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(33, 3)), np.array([0, 1] * 16 + [0])
    clf = AttentionCNNClassifier(**{**tiny_params, "attention": attention})
    assert clf.fit(X, y).predict(X).shape == (33,)


@pytest.mark.parametrize("attention", ["multihead", "mha", "row", "se"])
def test_a_single_feature_works(attention, tiny_params):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 1))
    y = (X[:, 0] > 0).astype(int)
    clf = AttentionCNNClassifier(**{**tiny_params, "attention": attention}).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()


def test_training_on_two_rows_warns_and_skips_early_stopping(tiny_params):
    X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    clf = AttentionCNNClassifier(**{**tiny_params, "early_stopping": True})
    with pytest.warns(TooFewSamplesWarning, match="trains on all rows"):
        clf.fit(X, y)
    assert "valid_loss" not in clf.history_[-1]


@pytest.fixture
def noise_with_early_stopping(tiny_params):
    """Pure noise, on which the validation loss soon rises, and early stopping."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 5))
    y = rng.randint(0, 2, 200)
    params = {**tiny_params, "early_stopping": True, "patience": 3, "max_epochs": 60}
    return X, y, {**params, "lr": 1e-2}


def test_early_stopping_stops_and_restores_the_best_weights(noise_with_early_stopping):
    X, y, params = noise_with_early_stopping
    clf = AttentionCNNClassifier(**params).fit(X, y)
    valid_losses = clf.history_[:, "valid_loss"]
    assert len(valid_losses) < 60
    assert clf.n_iter_ == len(valid_losses)  # the epochs run, as MLPClassifier's
    stopper = dict(clf.net_.callbacks_)["early_stopping"]
    best = int(np.argmin(valid_losses)) + 1
    assert stopper.best_epoch_ == best
    for name, value in _trained_weights(clf.net_.module_).items():
        torch.testing.assert_close(value, stopper.best_model_weights_[name])
    # No column of X is ever missing: their missing tokens are the neutral
    # ones, the median's, since the shift that training would learn was never
    # used (and the restore did not set them).
    tokenizer = clf.net_.module_.tokenizer
    medians = torch.as_tensor(clf._numeric_medians)
    torch.testing.assert_close(
        tokenizer.missing_tokens(), tokenizer.neutral_tokens(medians)
    )
    assert (tokenizer.num_missing_shift == 0).all()


def _trained_weights(module) -> dict:
    """Copies of the weights training set, by name."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


class _WeightRecorder(Callback):
    """Copies of the weights after every training step and at every epoch's end.

    A user callback runs before ``weight_average`` (which is listed last): at
    a step's end it sees the raw weights the average moves towards, at an
    epoch's end the average that was validated.
    """

    def initialize(self):
        self.steps, self.epochs = [], []
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps.append(_trained_weights(net.module_))

    def on_epoch_end(self, net, **kwargs):
        self.epochs.append(_trained_weights(net.module_))


def _fit_recorded(params, X, y):
    clf = AttentionCNNClassifier(
        **params, callbacks=[("recorder", _WeightRecorder())]
    ).fit(X, y)
    callbacks = dict(clf.net_.callbacks_)
    return clf, callbacks["recorder"], callbacks.get("weight_average")


def _assert_weights_equal(module, weights):
    trained = _trained_weights(module)
    assert trained.keys() == weights.keys()
    for name, w in weights.items():
        torch.testing.assert_close(trained[name], w, rtol=0, atol=0)


def test_without_validation_the_model_keeps_the_moving_average(
    numeric_data, tiny_params
):
    X, y = numeric_data
    clf, recorder, averager = _fit_recorded(tiny_params, X, y)
    decay = 1 - 1 / averager.steps_per_epoch  # a time constant of one epoch
    expected = recorder.steps[0]
    for weights in recorder.steps[1:]:
        expected = {
            n: a * decay + weights[n] * (1 - decay) for n, a in expected.items()
        }
    trained = _trained_weights(clf.net_.module_)
    for name, e in expected.items():
        torch.testing.assert_close(trained[name], e)
    last = recorder.steps[-1]
    assert not all(torch.equal(p, last[name]) for name, p in trained.items())
    # Without the average, the last step's weights are kept.
    plain, recorder, _ = _fit_recorded({**tiny_params, "average_weights": False}, X, y)
    _assert_weights_equal(plain.net_.module_, recorder.steps[-1])


def test_early_stopping_validates_and_restores_the_moving_average(
    noise_with_early_stopping,
):
    X, y, params = noise_with_early_stopping
    clf, recorder, averager = _fit_recorded(params, X, y)
    best = int(np.argmin(clf.history_[:, "valid_loss"]))
    assert best + 1 < len(clf.history_)  # an earlier epoch was restored
    _assert_weights_equal(clf.net_.module_, recorder.epochs[best])
    # ... which is the average at that epoch, not its last step's raw weights.
    raw = recorder.steps[(best + 1) * averager.steps_per_epoch - 1]
    averaged = recorder.epochs[best]
    assert not all(torch.equal(a, raw[name]) for name, a in averaged.items())
    # Training itself runs on the raw weights: its losses are those of a fit
    # without the average, and only the validation losses differ.
    plain = AttentionCNNClassifier(**params, average_weights=False).fit(X, y)
    n = min(len(plain.history_), len(clf.history_))
    np.testing.assert_array_equal(
        clf.history_[:n, "train_loss"], plain.history_[:n, "train_loss"]
    )
    assert not np.allclose(
        clf.history_[:n, "valid_loss"], plain.history_[:n, "valid_loss"]
    )


def test_early_stopping_split_is_stratified(tiny_params):
    y = np.array([0] * 90 + [1] * 10)
    clf = AttentionCNNClassifier(**{**tiny_params, "early_stopping": True})
    train, valid = clf._split(100, y, np.random.RandomState(0))
    assert len(valid) == 10 and y[valid].sum() == 1
    assert len(np.intersect1d(train, valid)) == 0 and len(train) + len(valid) == 100


@pytest.mark.parametrize(
    ("n_train", "expected"), [(10, 32), (1000, 128), (18000, 512), (10**6, 1024)]
)
def test_auto_batch_size(n_train, expected):
    assert auto_batch_size(n_train) == expected


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_every_parameter_has_a_constraint(Est):
    assert set(Est().get_params()) == set(Est._parameter_constraints)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"attention": "foo"},
            "The 'attention' parameter of AttentionCNNClassifier must be a str among",
        ),
        (
            {"n_heads": 0},
            "The 'n_heads' parameter of AttentionCNNClassifier must be an int in the "
            "range [1, inf). Got 0 instead.",
        ),
        (
            {"validation_fraction": 1.5},
            "The 'validation_fraction' parameter of AttentionCNNClassifier must be a "
            "float in the range (0.0, 1.0). Got 1.5 instead.",
        ),
        (
            {"attention": "mha", "d_token": 30, "n_heads": 4},
            "d_token must be divisible by n_heads when attention='mha'. Got "
            "d_token=30, n_heads=4.",
        ),
        ({"batch_size": "big"}, "The 'batch_size' parameter of AttentionCNNClassifier"),
        ({"device": "foo"}, "device='foo' is not a torch device"),
        pytest.param(
            {"device": "cuda"},
            "device='cuda', but this torch has no cuda device here. Use device='cpu'.",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="has CUDA"),
        ),
        (
            {"callbacks": [("lr_schedule", EpochScoring("accuracy"))]},
            "callbacks: the name 'lr_schedule' is the estimator's own; choose another.",
        ),
    ],
)
def test_bad_parameters_raise_in_fit_not_in_init(params, message, numeric_data):
    X, y = numeric_data
    clf = AttentionCNNClassifier(**params)  # no error here
    assert clf.get_params()[next(iter(params))] == next(iter(params.values()))
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.fit(X, y)


@pytest.mark.parametrize(
    "callbacks",
    [["accuracy"], [42], [(1, EpochScoring("accuracy"))], [("a", "b", "c")]],
    ids=["str", "int", "int-name", "triple"],
)
def test_callbacks_that_are_not_callbacks(callbacks, numeric_data):
    X, y = numeric_data
    message = "callbacks must be a list of skorch callbacks or (name, callback) pairs."
    with pytest.raises(TypeError, match=re.escape(message)):
        AttentionCNNClassifier(callbacks=callbacks).fit(X, y)


@pytest.mark.parametrize("attention", ["self", "multihead", "mha", "row"])
def test_numpy_integers_as_parameters(attention, numeric_data, tiny_params):
    # A grid built with np.arange passes np.int64; tensor.split refused it.
    X, y = numeric_data
    plain = {**tiny_params, "attention": attention, "kernel_size": 3}
    sizes = ("d_token", "n_heads", "attention_dim", "n_blocks", "kernel_size")
    numpy = {**plain, **{k: np.int64(plain[k]) for k in sizes}}
    np.testing.assert_array_equal(
        AttentionCNNClassifier(**numpy).fit(X, y).predict_proba(X),
        AttentionCNNClassifier(**plain).fit(X, y).predict_proba(X),
    )


def test_a_newly_registered_attention_block_is_accepted(numeric_data, tiny_params):
    from sk_tabattn import register_attention
    from sk_tabattn.nn import AttentionBlock

    @register_attention("test_half")
    class Half(AttentionBlock):
        def attend(self, x):
            return 0.5 * x, None

    try:
        X, y = numeric_data
        clf = AttentionCNNClassifier(**{**tiny_params, "attention": "test_half"})
        assert clf.fit(X, y).predict(X).shape == y.shape
    finally:
        del ATTENTION_BLOCKS["test_half"]


@pytest.mark.parametrize("fusion", ["sum", "scalar", "softmax", "adaptive"])
@pytest.mark.parametrize(
    "streams", ["dtype", [["age", "income"], ["city", "member", "plan"]]]
)
def test_streams_and_fusion(streams, fusion, mixed_frame, tiny_params):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(**tiny_params, streams=streams, fusion=fusion).fit(
        X, y
    )
    assert len(clf.net_.module_.branches) == 2
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        ([["age", "income"]], "Columns 'city', 'member', 'plan' are in no stream."),
        ([["age", "incme"], ["city", "member", "plan"]], "Did you mean 'income'?"),
        ([["age", 9]], "streams names column index 9, but X has 5 columns."),
        (["age"], "streams must be None, 'dtype' or a list of non-empty lists"),
    ],
)
def test_bad_streams(streams, message, mixed_frame, tiny_params):
    X, y = mixed_frame
    with pytest.raises(ValueError, match=re.escape(message)):
        AttentionCNNClassifier(**tiny_params, streams=streams).fit(X, y)


def test_clone_before_and_after_fit(numeric_data, tiny_params):
    X, y = numeric_data
    clf = AttentionCNNClassifier(**tiny_params, callbacks=[])
    fitted = clone(clf).fit(X, y)
    again = clone(fitted)
    assert again.get_params() == clf.get_params()
    assert not hasattr(again, "net_")
    np.testing.assert_array_equal(
        again.fit(X, y).predict_proba(X), fitted.predict_proba(X)
    )


def test_user_callbacks_are_used_and_not_modified(numeric_data, tiny_params):
    from skorch.callbacks import EpochScoring

    X, y = numeric_data
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc")
    clf = AttentionCNNClassifier(**tiny_params, callbacks=[scoring]).fit(X, y)
    assert "train_acc" in clf.history_[-1]
    assert not hasattr(scoring, "best_score_")  # the net got a copy


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_predict_runs_the_module_like_skorch_does(Est, mixed_frame, tiny_params):
    # predict batches through the module directly, not through skorch's loop:
    # the same values, and the module's training mode is left as it was.
    X, y = mixed_frame
    if Est is AttentionCNNRegressor:
        y = X["income"].to_numpy()
    est = Est(**tiny_params).fit(X.drop(columns="income"), y)
    X = X.drop(columns="income")
    dataset = TabularDataset(est.encoder_.encode(X))
    skorch_way = (
        est.net_.predict_proba(dataset)
        if Est is AttentionCNNClassifier
        else est.net_.predict(dataset)
    )
    est.net_.module_.train()
    np.testing.assert_allclose(est._forward(X), skorch_way, rtol=1e-6, atol=1e-7)
    assert est.net_.module_.training


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_periodic_numeric_embedding_fits_and_predicts(Est, mixed_frame, tiny_params):
    X, y = mixed_frame
    if Est is AttentionCNNRegressor:
        y = X["income"].to_numpy()
        X = X.drop(columns="income")
    est = Est(numeric_embedding="periodic", **tiny_params).fit(X, y)
    assert est.net_.module_.tokenizer.numeric_embedding == "periodic"
    pred = est.predict(X)
    assert len(pred) == len(X)
    assert np.isfinite(est.feature_importances_).all()
    linear = Est(**tiny_params).fit(X, y)
    assert linear.net_.module_.tokenizer.numeric_embedding == "linear"


@pytest.mark.parametrize("activation", ["hardswish", "relu", "gelu"])
def test_activation_sets_the_conv_blocks_and_the_head(
    activation, mixed_frame, tiny_params
):
    X, y = mixed_frame
    est = AttentionCNNClassifier(activation=activation, **tiny_params).fit(X, y)
    module = est.net_.module_
    kind = {"hardswish": torch.nn.Hardswish, "relu": torch.nn.ReLU}.get(
        activation, torch.nn.GELU
    )
    acts = [conv.act for b in module.branches for conv in b.convs]
    assert acts and all(type(a) is kind for a in acts)
    assert sum(type(m) is kind for m in module.head) == 1
    assert np.isfinite(est.predict_proba(X)).all()
    assert AttentionCNNClassifier().activation == "hardswish"
    with pytest.raises(ValueError, match="'activation' parameter"):
        AttentionCNNClassifier(activation="tanh", **tiny_params).fit(X, y)


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
@pytest.mark.parametrize("streams", [None, "dtype"])
def test_feature_readout_fits_predicts_and_explains(
    Est, streams, mixed_frame, tiny_params
):
    X, y = mixed_frame
    if Est is AttentionCNNRegressor:
        y = X["income"].to_numpy()
        X = X.drop(columns="income")
    est = Est(feature_readout=True, streams=streams, **tiny_params).fit(X, y)
    module = est.net_.module_
    assert module.readout_proj.in_features == READOUT_WIDTH * X.shape[1]
    assert all(b.readout is not None for b in module.branches)
    out = est.predict(X) if Est is AttentionCNNRegressor else est.predict_proba(X)
    assert len(out) == len(X) and np.isfinite(out).all()
    assert np.isfinite(est.feature_importances_).all()
    plain = Est(feature_readout=False, streams=streams, **tiny_params).fit(X, y)
    assert plain.net_.module_.readout_proj is None
    assert all(b.readout is None for b in plain.net_.module_.branches)


def test_compile_runs_full_training_batches_through_the_compiled_module(
    numeric_data, tiny_params, monkeypatch
):
    X, y = numeric_data  # 120 rows; 108 train after the 10% validation split
    compiled_rows = []

    def fake_compile(module, **kwargs):
        assert kwargs == {"dynamic": False}

        def forward(**inputs):
            assert module.training
            compiled_rows.append(len(inputs["x_num"]))
            return module(**inputs)

        return forward

    monkeypatch.setattr(torch, "compile", fake_compile)
    params = {**tiny_params, "max_epochs": 2, "early_stopping": True}
    eager = AttentionCNNClassifier(**params).fit(X, y)
    assert compiled_rows == []
    clf = AttentionCNNClassifier(**params, compile=True).fit(X, y)
    # 108 rows in batches of 32: three full batches an epoch, then 12 rows that
    # stay eager, as do validation, predict and the importances.
    assert compiled_rows == [32] * 6
    np.testing.assert_allclose(clf.predict_proba(X), eager.predict_proba(X))
    loaded = pickle.loads(pickle.dumps(clf))
    assert not hasattr(loaded.net_, "_compiled_forward")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("c++") is None, reason="inductor needs a C++ compiler")
def test_compile_trains_like_eager(numeric_data, tiny_params):
    X, y = numeric_data
    y = y.astype(float)
    # Compiled dropout draws its masks from another random stream: without
    # dropout the two must train alike.
    params = {**tiny_params, "max_epochs": 3, "dropout": 0.0}
    eager = AttentionCNNRegressor(**params).fit(X, y)
    compiled = AttentionCNNRegressor(**params, compile=True).fit(X, y)
    # Inductor fuses element-wise ops, so the floats differ in the last bits.
    np.testing.assert_allclose(
        compiled.history_[:, "train_loss"], eager.history_[:, "train_loss"], rtol=1e-3
    )
    np.testing.assert_allclose(compiled.predict(X), eager.predict(X), atol=1e-3)
    # With dropout, a seeded compiled fit still repeats exactly.
    params["dropout"] = 0.1
    first = AttentionCNNRegressor(**params, compile=True).fit(X, y)
    again = AttentionCNNRegressor(**params, compile=True).fit(X, y)
    np.testing.assert_array_equal(first.predict(X), again.predict(X))
