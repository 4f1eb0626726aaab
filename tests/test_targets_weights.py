"""Targets (labels of every kind, 1-D and multi-output) and weights in the loss."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor

FAST = {
    "d_token": 8,
    "n_heads": 2,
    "attention_dim": 8,
    "n_blocks": 1,
    "max_epochs": 2,
    "batch_size": 32,
    "early_stopping": False,
    "random_state": 0,
}
N = 60


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "color": rng.choice(["red", "blue"], N),
            "z": np.where(rng.rand(N) < 0.2, np.nan, rng.normal(size=N)),
        }
    )


# -- classifier labels ---------------------------------------------------------------
LABELS = {
    "str": np.array(["cat", "dog", "emu"] * (N // 3)),
    "object": np.array(["cat", "dog"] * (N // 2), dtype=object),
    "pandas str": pd.Series(["cat", "dog"] * (N // 2), dtype="str"),
    "int": np.array([3, 7, 11] * (N // 3)),
    "negative int": np.array([-1, 1] * (N // 2)),
    "bool": np.array([True, False] * (N // 2)),
    "categorical": pd.Series(
        pd.Categorical(["lo", "hi"] * (N // 2), categories=["lo", "mid", "hi"])
    ),
    "list": ["cat", "dog"] * (N // 2),
}


@pytest.mark.parametrize("key", sorted(LABELS))
def test_labels_of_every_kind(X, key):
    y = LABELS[key]
    clf = AttentionCNNClassifier(**FAST).fit(X, y)
    values = np.asarray(y, dtype=object)
    np.testing.assert_array_equal(clf.classes_, sorted(set(values)))
    pred = clf.predict(X)
    assert pred.shape == (N,)
    assert set(pred) <= set(values)
    assert type(pred[0]) is type(clf.classes_[0])
    if key in ("bool", "int", "negative int"):
        assert pred.dtype.kind == np.asarray(y).dtype.kind
    proba = clf.predict_proba(X)
    assert proba.shape == (N, len(clf.classes_))
    # To float64 precision: scikit-learn's log_loss warns at 1e-7 off.
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # Columns of predict_proba follow classes_.
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], pred)


@pytest.mark.parametrize(
    "y, kind",
    [
        (pd.Series([True, False] * (N // 2), dtype="boolean"), "b"),
        (pd.Series([1, 2] * (N // 2), dtype="Int64"), "i"),
        (pd.Series([0.0, 1.0] * (N // 2), dtype="Float64"), "f"),
        # scikit-learn called these object arrays of numbers "unknown".
        (pd.Series([1, 2] * (N // 2)).astype("category"), "i"),
        (pd.Series(pd.Categorical([True, False] * (N // 2))), "b"),
    ],
    ids=["boolean", "Int64", "Float64", "category-int", "category-bool"],
)
def test_nullable_labels_keep_their_type(X, y, kind):
    clf = AttentionCNNClassifier(**FAST).fit(X, y)
    assert clf.classes_.dtype.kind == kind
    assert clf.predict(X).dtype.kind == kind


@pytest.mark.parametrize(
    "y",
    [
        pd.Series([True, False] * (N // 2), dtype="boolean"),
        pd.Series([1, 2] * (N // 2), dtype="Int64"),
        pd.Series(["a", "b"] * (N // 2), dtype="string"),
    ],
    ids=["boolean", "Int64", "string"],
)
def test_nullable_labels_fit_and_predict(X, y):
    clf = AttentionCNNClassifier(**FAST).fit(X, y)
    assert len(clf.classes_) == 2
    assert set(clf.predict(X)) <= set(clf.classes_)


# -- regression targets ----------------------------------------------------------------
def _targets(n=N):
    rng = np.random.RandomState(1)
    return rng.normal(size=n) * 10 + 50


@pytest.mark.parametrize(
    "make_y, shape",
    [
        (lambda t: t, (N,)),
        (lambda t: pd.Series(t, name="price"), (N,)),
        (lambda t: list(t), (N,)),
        (lambda t: t.astype(np.float32), (N,)),
        (lambda t: np.round(t).astype(int), (N,)),
        (lambda t: pd.Series(t, dtype="Float64"), (N,)),
        (lambda t: t[:, None], (N, 1)),
        (lambda t: np.c_[t, -t], (N, 2)),
        (lambda t: pd.DataFrame({"a": t, "b": t / 10, "c": -t}), (N, 3)),
    ],
    ids=[
        "1d",
        "series",
        "list",
        "float32",
        "int",
        "Float64",
        "2d-one-column",
        "2d",
        "dataframe",
    ],
)
def test_regression_targets(X, make_y, shape):
    y = make_y(_targets())
    reg = AttentionCNNRegressor(**FAST).fit(X, y)
    pred = reg.predict(X)
    assert pred.shape == shape and pred.dtype == np.float64
    assert np.isfinite(pred).all()
    assert reg.n_outputs_ == (1 if len(shape) == 1 else shape[1])


def test_regression_predictions_are_in_the_scale_of_y(X):
    y = np.c_[_targets() * 1000, _targets() / 1000]
    pred = AttentionCNNRegressor(**FAST).fit(X, y).predict(X)
    # Targets are standardised inside and mapped back: each output's
    # predictions sit within a few standard deviations of its mean.
    assert (np.abs(pred.mean(axis=0) - y.mean(axis=0)) < 3 * y.std(axis=0)).all()


def test_targets_near_float64s_limit(X):
    # Their mean and variance overflowed, and every prediction came back inf.
    y = _targets()
    reg = AttentionCNNRegressor(**FAST).fit(X, y)
    huge = AttentionCNNRegressor(**FAST).fit(X, y * 1e300)
    pred = huge.predict(X)
    assert np.isfinite(pred).all()
    np.testing.assert_allclose(pred / 1e300, reg.predict(X), rtol=1e-5)


def test_predictions_beyond_float64_are_refused(X):
    reg = AttentionCNNRegressor(**FAST).fit(X, _targets())
    # As if y had spanned float64's range: half the outputs land beyond it.
    reg._target_mean, reg._target_scale = np.array([1.79e308]), np.array([1e308])
    with pytest.raises(FloatingPointError, match="beyond float64's range"):
        reg.predict(X)


# -- sample_weight and class_weight ---------------------------------------------------
LEARN = {**FAST, "max_epochs": 15, "lr": 1e-2, "lr_schedule": "constant"}


@pytest.fixture(scope="module")
def noise():
    """Features that carry no signal, and balanced labels."""
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    y = np.array(["a", "b"] * 40)
    return X, y


def _share_a(clf, X):
    return clf.predict_proba(X)[:, list(clf.classes_).index("a")].mean()


def test_sample_weight_weighs_the_loss_of_the_classifier(noise):
    X, y = noise
    up_a = np.where(y == "a", 9.0, 1.0)
    share_up_a = _share_a(AttentionCNNClassifier(**LEARN).fit(X, y, up_a), X)
    share_none = _share_a(AttentionCNNClassifier(**LEARN).fit(X, y), X)
    share_up_b = _share_a(AttentionCNNClassifier(**LEARN).fit(X, y, 10 - up_a), X)
    assert share_up_a > 0.75 > 0.6 > share_none > 0.4 > 0.25 > share_up_b


@pytest.mark.parametrize("make", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_weights_near_float64s_limit_equal_unit_weights(noise, make):
    # Their sum overflowed to inf, and every row's weight became 0.
    X, y = noise
    y = (y == "a").astype(float) if make is AttentionCNNRegressor else y
    huge = make(**FAST).fit(X, y, sample_weight=np.full(len(y), 1e307))
    unit = make(**FAST).fit(X, y)
    assert huge.history_[:, "train_loss"] == unit.history_[:, "train_loss"]


def test_zero_weights_are_allowed_and_ignored(noise):
    X, y = noise
    weights = np.where(y == "a", 1.0, 0.0)
    clf = AttentionCNNClassifier(**LEARN).fit(X, y, sample_weight=weights)
    assert _share_a(clf, X) > 0.9
    assert list(clf.classes_) == ["a", "b"]  # a class with zero weight is kept


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_zero_weight_rows_fit_as_if_they_were_not_passed(Est, mixed_frame):
    X, y = mixed_frame
    weights = np.where(np.arange(len(y)) % 3 == 0, 0.0, 1.0)
    kept = weights > 0
    # What zero-weight rows hold must not matter: wild targets, flipped labels.
    if Est is AttentionCNNRegressor:
        y = np.where(kept, X["income"].to_numpy() / 1e3, 1e5)
    else:
        y = np.where(kept, y, np.where(y == "yes", "no", "yes"))
    params = {**LEARN, "early_stopping": True, "random_state": 3}
    zeros = Est(**params).fit(X, y, sample_weight=weights)
    alone = Est(**params).fit(X[kept], y[kept], sample_weight=weights[kept])
    out = "predict_proba" if Est is AttentionCNNClassifier else "predict"
    np.testing.assert_array_equal(getattr(zeros, out)(X), getattr(alone, out)(X))
    assert len(zeros.history_) == len(alone.history_)


def test_sample_weight_weighs_the_loss_of_the_regressor(noise):
    X, _ = noise
    y = np.array([0.0, 10.0] * 40)
    up_ten = np.where(y > 0, 9.0, 1.0)
    high = AttentionCNNRegressor(**LEARN).fit(X, y, sample_weight=up_ten)
    low = AttentionCNNRegressor(**LEARN).fit(X, y, sample_weight=10 - up_ten)
    assert high.predict(X).mean() > 7 and low.predict(X).mean() < 3


def test_multi_output_regressor_with_weights(noise):
    X, _ = noise
    y = np.c_[np.array([0.0, 10.0] * 40), np.array([5.0, -5.0] * 40)]
    weights = np.where(y[:, 0] > 0, 9.0, 1.0)
    pred = AttentionCNNRegressor(**LEARN).fit(X, y, sample_weight=weights).predict(X)
    assert pred.shape == (80, 2)
    assert pred[:, 0].mean() > 7 and pred[:, 1].mean() < -3


@pytest.mark.parametrize("make", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_uniform_weights_equal_no_weights(noise, make):
    X, y = noise
    if make is AttentionCNNRegressor:
        y = (y == "a").astype(float)
    method = "predict_proba" if make is AttentionCNNClassifier else "predict"
    plain = getattr(make(**FAST).fit(X, y), method)(X)
    for weights in (np.ones(len(y)), np.full(len(y), 4.0)):
        model = make(**FAST).fit(X, y, sample_weight=weights)
        weighted = getattr(model, method)(X)
        np.testing.assert_allclose(weighted, plain, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def imbalanced():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    y = np.array(["a"] * 90 + ["b"] * 10)
    return X, y


@pytest.mark.parametrize(
    "class_weight", ["balanced", {"b": 9.0}, {"a": 1.0, "b": 9.0}], ids=str
)
def test_class_weight_shifts_the_prior(imbalanced, class_weight):
    X, y = imbalanced
    plain = 1 - _share_a(AttentionCNNClassifier(**LEARN).fit(X, y), X)
    model = AttentionCNNClassifier(**LEARN, class_weight=class_weight).fit(X, y)
    weighted = 1 - _share_a(model, X)
    assert plain < 0.2 and weighted > max(0.3, 2 * plain)


def test_balanced_equals_inverse_frequency_dict(imbalanced):
    # 90 "a" and 10 "b": "balanced" weighs them 1 : 9, as the dict does; the
    # loss weights are normalised to mean 1, so the two fits are identical.
    X, y = imbalanced
    balanced = AttentionCNNClassifier(**FAST, class_weight="balanced").fit(X, y)
    as_dict = AttentionCNNClassifier(**FAST, class_weight={"a": 1, "b": 9}).fit(X, y)
    np.testing.assert_allclose(
        balanced.predict_proba(X), as_dict.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_class_weight_multiplies_sample_weight(imbalanced):
    X, y = imbalanced
    plain = AttentionCNNClassifier(**FAST).fit(X, y).predict_proba(X)
    undo = np.where(y == "b", 1 / 9, 1.0)
    both = (
        AttentionCNNClassifier(**FAST, class_weight={"b": 9.0})
        .fit(X, y, sample_weight=undo)
        .predict_proba(X)
    )
    np.testing.assert_allclose(both, plain, rtol=1e-5, atol=1e-6)


def test_class_weight_with_integer_and_bool_labels(imbalanced):
    X, y = imbalanced
    ints = np.where(y == "b", 1, 0)
    clf = AttentionCNNClassifier(**FAST, class_weight={1: 9.0}).fit(X, ints)
    assert list(clf.classes_) == [0, 1]
    clf = AttentionCNNClassifier(**FAST, class_weight={True: 9.0}).fit(X, ints == 1)
    assert clf.predict(X).dtype == bool


def test_label_smoothing_caps_the_confidence_the_loss_rewards(tiny_params):
    # Separable classes: plain cross-entropy drives the probabilities to 1;
    # smoothing by 0.2 over 2 classes has its optimum at 0.9.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    X[:, 0] += np.where(y == 1, 2.0, -2.0)
    params = {**tiny_params, "max_epochs": 30, "lr": 1e-2}
    confidence = {}
    for smoothing in (0.0, 0.2):
        clf = AttentionCNNClassifier(**params, label_smoothing=smoothing).fit(X, y)
        assert clf.net_.criterion_.label_smoothing == smoothing
        assert clf.score(X, y) == 1.0
        confidence[smoothing] = clf.predict_proba(X).max(axis=1)
    assert np.median(confidence[0.0]) > 0.99
    # The optimum caps the loss, not every row: a point far from the others
    # may sit past it, so the bound is on all but the top 1%.
    assert abs(np.median(confidence[0.2]) - 0.9) < 0.03
    assert np.quantile(confidence[0.2], 0.99) < 0.95
