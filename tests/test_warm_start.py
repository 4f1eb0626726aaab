"""warm_start: fit on a fitted model goes on training its network."""

from __future__ import annotations

import pickle

import _params
import numpy as np
import pandas as pd
import pytest
import torch

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor

FAST = {**_params.FAST, "max_epochs": 2}
#: A warm fit that barely moves the weights: what it starts from shows.
STILL = {"warm_start": True, "lr": 1e-9, "weight_decay": 0.0}


def _frame(
    n: int, seed: int, with_rare: bool = True
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.RandomState(seed)
    city = rng.choice(["paris", "lyon", "nice"], n).astype(object)
    z = rng.normal(size=n)
    if with_rare:  # a category and missing values only this fit's rows hold
        city[:8] = "brest"
        z[8:16] = np.nan
    X = pd.DataFrame({"x": rng.normal(size=n), "city": city, "z": z})
    y = np.where(X["x"] + (X["city"] == "paris") > 0.5, "yes", "no")
    return X, y


def _outputs(model, X) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_a_warm_fit_starts_from_the_fitted_weights(Est, regression_data):
    X, y = regression_data
    if Est is AttentionCNNClassifier:
        y = (y > np.median(y)).astype(int)
    model = Est(**FAST).fit(X, y)
    before = _outputs(model, X)
    model.set_params(**STILL).fit(X, y)
    np.testing.assert_allclose(_outputs(model, X), before, atol=1e-4)
    # Without warm_start the same settings start from new weights.
    cold = Est(**{**FAST, **STILL, "warm_start": False}).fit(X, y)
    assert np.abs(_outputs(cold, X) - before).max() > 1e-2


def test_a_warm_fit_trains_on(regression_data):
    X, y = regression_data
    model = AttentionCNNRegressor(**{**FAST, "max_epochs": 1}).fit(X, y)
    one_epoch = np.mean((model.predict(X) - y) ** 2)
    for _ in range(4):
        model.set_params(warm_start=True).fit(X, y)
    assert np.mean((model.predict(X) - y) ** 2) < 0.5 * one_epoch
    assert model.n_iter_ == 5


def test_history_counts_the_epochs_of_every_fit(numeric_data):
    X, y = numeric_data
    model = AttentionCNNClassifier(**FAST).fit(X, y)
    first = model.history_
    model.set_params(warm_start=True, max_epochs=3, early_stopping=True).fit(X, y)
    assert model.n_iter_ == 5
    assert [row["epoch"] for row in first] == [1, 2]  # the first record is intact
    assert [row["epoch"] for row in model.history_] == [1, 2, 3, 4, 5]
    assert "valid_loss" not in model.history_[1] and "valid_loss" in model.history_[2]
    assert model.net_.history is model.history_
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.n_iter_ == 5


def test_warm_start_on_an_unfitted_model_is_a_plain_fit(numeric_data):
    X, y = numeric_data
    warm = AttentionCNNClassifier(**FAST, warm_start=True).fit(X, y)
    plain = AttentionCNNClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(warm.predict_proba(X), plain.predict_proba(X))


def test_a_warm_fit_keeps_the_encoding_and_the_target_scale():
    X, y = _frame(120, 0)
    rng = np.random.RandomState(1)
    target = 3 * X["x"].to_numpy() + rng.normal(size=len(X))
    model = AttentionCNNRegressor(**FAST).fit(X, target)
    encoder, mean, scale = model.encoder_, model._target_mean, model._target_scale
    before = model.predict(X)
    # Other values, a city the first fit never saw, rows of weight 0, and
    # targets on another scale: none of it re-learns the encoding.
    X2 = X.assign(x=X["x"] * 10, city=X["city"].replace("nice", "metz"))
    weights = np.r_[np.zeros(10), np.ones(len(X) - 10)]
    model.set_params(**STILL).fit(X2, 2 * target + 5, sample_weight=weights)
    assert model.encoder_ is encoder
    assert model._target_mean == mean and model._target_scale == scale
    np.testing.assert_allclose(model.predict(X), before, atol=1e-4)


def test_tokens_trained_in_an_earlier_fit_keep_what_they_learnt():
    X, y = _frame(120, 0)
    model = AttentionCNNClassifier(**FAST).fit(X, y)
    tokenizer_before = {
        k: v.clone() for k, v in model.net_.module_.tokenizer.state_dict().items()
    }
    # This fit's rows hold neither "brest" nor a missing z: their tokens get
    # no training now, and must not be reset to the neutral ones.
    X2, y2 = _frame(120, 1, with_rare=False)
    model.set_params(**STILL).fit(X2, y2)
    after = model.net_.module_.tokenizer.state_dict()
    for key, value in tokenizer_before.items():
        torch.testing.assert_close(after[key], value, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "change",
    [
        {"d_token": 16},
        {"attention": "se"},
        {"kernel_size": 5},
        {"activation": "gelu"},
        {"numeric_transform": "standard"},
        {"min_frequency": 1},
        {"streams": "dtype"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_warm_fit_refuses_a_changed_network_or_encoding(change):
    X, y = _frame(120, 0)
    model = AttentionCNNClassifier(**FAST).fit(X, y)
    before = model.predict_proba(X)
    name = next(iter(change))
    with pytest.raises(ValueError, match=rf"warm_start=True .*\b{name}\b"):
        model.set_params(warm_start=True, **change).fit(X, y)
    # The failed fit left the fitted model as it was.
    np.testing.assert_array_equal(model.predict_proba(X), before)
    assert model.n_iter_ == FAST["max_epochs"]


def test_a_warm_fit_takes_new_training_settings():
    X, y = _frame(120, 0)
    model = AttentionCNNClassifier(**FAST).fit(X, y)
    model.set_params(
        warm_start=True,
        lr=1e-3,
        max_epochs=1,
        batch_size=16,
        dropout=0.3,
        lr_schedule="constant",
        average_weights=False,
        random_state=5,
    ).fit(X, y)
    assert model.n_iter_ == FAST["max_epochs"] + 1
    # The new settings trained the last epoch: 120 rows in batches of 16, not 32.
    assert model.history_[:, "train_batch_count"] == [4, 4, 8]
    assert model.net_.lr == 1e-3 and model.net_.module__dropout == 0.3


def test_a_warm_fit_refuses_other_classes_targets_or_columns(regression_data):
    X, y = regression_data
    labels = np.where(y > np.median(y), "hi", "lo")
    clf = AttentionCNNClassifier(**FAST, warm_start=True).fit(X, labels)
    with pytest.raises(
        ValueError, match=r"classes \['hi', 'lo'\].*\['hi', 'lo', 'mid'\]"
    ):
        clf.fit(X, np.r_[labels[:-1], ["mid"]])
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.fit(X[:, :3], labels)
    reg = AttentionCNNRegressor(**FAST, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"predicts 1 target\(s\), but y has 2"):
        reg.fit(X, np.c_[y, y])
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    reg = AttentionCNNRegressor(**FAST, warm_start=True).fit(frame, y)
    with pytest.raises(ValueError, match="feature names"):
        reg.fit(frame.rename(columns={"d": "e"}), y)
