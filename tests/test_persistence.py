"""save/load with version metadata."""

from __future__ import annotations

import copy
import pickle

import joblib
import numpy as np
import pytest
import torch

from sk_tabattn import (
    AttentionCNNClassifier,
    AttentionCNNRegressor,
    load,
    persistence,
    save,
)


@pytest.fixture
def fitted(numeric_data, tiny_params):
    X, y = numeric_data
    return AttentionCNNClassifier(**tiny_params).fit(X, y), X


def test_save_and_load_give_the_same_predictions(fitted, tmp_path):
    model, X = fitted
    path = tmp_path / "sub" / "model.joblib"
    save(model, path)
    assert path.exists()
    np.testing.assert_array_equal(load(path).predict_proba(X), model.predict_proba(X))


def test_load_warns_when_versions_differ(fitted, tmp_path, monkeypatch):
    model, _ = fitted
    path = tmp_path / "model.joblib"
    monkeypatch.setattr(
        persistence, "_versions", lambda: {"torch": "0.0.1", "sk_tabattn": "0.1.0"}
    )
    save(model, path)
    monkeypatch.undo()
    with pytest.warns(persistence.VersionMismatchWarning, match="torch 0.0.1 \\(now "):
        load(path)


def test_load_reads_a_plain_joblib_file(fitted, tmp_path):
    model, X = fitted
    path = tmp_path / "plain.joblib"
    joblib.dump(model, path)
    np.testing.assert_array_equal(load(path).predict(X), model.predict(X))


@pytest.mark.parametrize("Est", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_a_model_pickled_before_the_later_parameters_still_loads(
    Est, numeric_data, tiny_params
):
    X, y = numeric_data
    est = Est(**tiny_params, **Est._added_parameters).fit(X, y)
    # What such a pickle holds: none of the later parameters, and no readout
    # among the network's submodules.
    old = copy.deepcopy(est)
    for name in Est._added_parameters:
        del old.__dict__[name]
    module = old.net_.module_
    del module.__dict__["readout_proj"]  # None submodules are plain attributes
    for branch in module.branches:
        del branch.__dict__["readout"]
        for conv in branch.convs:  # their activation was GELU, not a submodule
            del conv._modules["act"]
    loaded = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.get_params() == est.get_params()
    assert loaded.n_iter_ == est.n_iter_ == tiny_params["max_epochs"]


def test_a_model_pickled_with_a_one_number_readout_still_predicts(
    numeric_data, tiny_params
):
    X, y = numeric_data
    est = AttentionCNNClassifier(**tiny_params).fit(X, y)
    module = est.net_.module_
    (branch,) = module.branches
    n_positions = branch.readout.weight.shape[-1]
    # Such a pickle's readout holds a (channels, n_positions) weight and its
    # projection reads n_positions inputs: the first width of today's.
    with torch.no_grad():
        branch.readout.weight[1:] = 0.0
    expected = est.predict_proba(X)
    old = copy.deepcopy(est)
    old_module = old.net_.module_
    old_readout = old_module.branches[0].readout
    old_readout.weight = torch.nn.Parameter(old_readout.weight[0].clone())
    proj = old_module.readout_proj
    old_module.readout_proj = torch.nn.Linear(n_positions, proj.out_features, False)
    with torch.no_grad():
        old_module.readout_proj.weight.copy_(proj.weight[:, :n_positions])
    loaded = pickle.loads(pickle.dumps(old))
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
