"""The estimators inside scikit-learn's tools: CV, pipelines, search, pickling."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor


def _preprocess():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), make_column_selector(dtype_include="number")),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ["city", "plan"],
            ),
        ],
        remainder="drop",
    )


def test_cross_validate(mixed_frame, tiny_params):
    X, y = mixed_frame
    res = cross_validate(
        AttentionCNNClassifier(**tiny_params),
        X,
        y,
        cv=3,
        scoring=("accuracy", "roc_auc"),
    )
    assert res["test_accuracy"].shape == (3,)
    assert np.isfinite(res["test_roc_auc"]).all()


def test_sample_weight_reaches_fit_through_metadata_routing(numeric_data, tiny_params):
    X, y = numeric_data
    weights = np.where(y == 1, 0.2, 1.0)
    train = np.arange(len(y)) % 3 > 0
    folds = [(np.flatnonzero(train), np.flatnonzero(~train))]

    def pipeline():
        clf = AttentionCNNClassifier(**tiny_params).set_fit_request(sample_weight=True)
        return make_pipeline(StandardScaler().set_fit_request(sample_weight=False), clf)

    with sklearn.config_context(enable_metadata_routing=True):
        weighted_accuracy = get_scorer("accuracy").set_score_request(sample_weight=True)
        res = cross_validate(
            pipeline(),
            X,
            y,
            cv=folds,
            scoring=weighted_accuracy,
            params={"sample_weight": weights},
            return_estimator=True,
        )
        search = GridSearchCV(
            pipeline(),
            {"attentioncnnclassifier__attention": ["none"]},
            cv=folds,
            scoring=weighted_accuracy,
        )
        search.fit(X, y, sample_weight=weights)
        weighted = pipeline().fit(X[train], y[train], sample_weight=weights[train])
        refit = pipeline().set_params(**search.best_params_)
        refit.fit(X, y, sample_weight=weights)
    unweighted = make_pipeline(StandardScaler(), AttentionCNNClassifier(**tiny_params))
    unweighted.fit(X[train], y[train])
    # The routed weights are the ones fit saw: the same model as a direct fit.
    expected = weighted.predict_proba(X)
    np.testing.assert_array_equal(res["estimator"][0].predict_proba(X), expected)
    np.testing.assert_array_equal(
        search.best_estimator_.predict_proba(X), refit.predict_proba(X)
    )
    assert np.abs(unweighted.predict_proba(X) - expected).max() > 1e-3


@pytest.mark.parametrize("pandas_output", [False, True])
def test_pipeline_with_a_column_transformer(mixed_frame, tiny_params, pandas_output):
    X, y = mixed_frame
    pre = _preprocess()
    if pandas_output:
        pre.set_output(transform="pandas")
    pipe = make_pipeline(pre, AttentionCNNClassifier(**tiny_params)).fit(X, y)
    model = pipe[-1]
    assert model.n_features_in_ == pre.transform(X).shape[1]
    if pandas_output:
        assert list(model.feature_names_in_) == list(pre.get_feature_names_out())
    assert pipe.predict(X).shape == y.shape


def _as_foreign_frame(X, library):
    if library == "polars":
        pl = pytest.importorskip("polars")
        pytest.importorskip("pyarrow")  # polars' to_pandas needs it
        return pl.from_pandas(X)
    pa = pytest.importorskip("pyarrow")
    return pa.Table.from_pandas(X, preserve_index=False)


@pytest.mark.parametrize("library", ["polars", "pyarrow"])
def test_polars_and_pyarrow_frames_are_read_as_pandas_frames(
    mixed_frame, tiny_params, library
):
    X, y = mixed_frame
    foreign = _as_foreign_frame(X, library)
    model = AttentionCNNClassifier(**tiny_params).fit(foreign, y)
    reference = AttentionCNNClassifier(**tiny_params).fit(X, y)
    # Names kept (check_array alone would drop them), kinds as in pandas: the
    # category column "plan" and the string "city" categorical, "member" too.
    assert list(model.feature_names_in_) == list(X.columns)
    for attribute in ("numeric_columns_", "categorical_columns_"):
        np.testing.assert_array_equal(
            getattr(model.encoder_, attribute), getattr(reference.encoder_, attribute)
        )
    np.testing.assert_array_equal(
        model.predict_proba(foreign), reference.predict_proba(X)
    )
    with pytest.raises(ValueError, match="same order as they were in fit"):
        model.predict(_as_foreign_frame(X[X.columns[::-1]], library))


def test_a_column_transformer_with_polars_output_feeds_the_estimator(
    mixed_frame, tiny_params
):
    pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    X, y = mixed_frame
    pre = _preprocess().set_output(transform="polars")
    pipe = make_pipeline(pre, AttentionCNNClassifier(**tiny_params)).fit(X, y)
    assert list(pipe[-1].feature_names_in_) == list(pre.get_feature_names_out())
    assert pipe.predict(X).shape == y.shape


def test_a_lazy_polars_frame_asks_to_be_collected(mixed_frame, tiny_params):
    pl = pytest.importorskip("polars")
    X, y = mixed_frame
    with pytest.raises(TypeError, match=r"lazy polars.*LazyFrame.*X\.collect\(\)"):
        AttentionCNNClassifier(**tiny_params).fit(pl.from_pandas(X).lazy(), y)


class _ArrowStreamTable:
    """A table that only exports an Arrow stream (no ``to_pandas``)."""

    def __init__(self, table):
        self.table = table
        self.columns = table.column_names

    def __arrow_c_stream__(self, requested_schema=None):
        return self.table.__arrow_c_stream__(requested_schema)


def test_a_table_exporting_an_arrow_stream_is_read_through_pyarrow(
    mixed_frame, tiny_params
):
    X, y = mixed_frame
    stream = _ArrowStreamTable(_as_foreign_frame(X, "pyarrow"))
    model = AttentionCNNClassifier(**tiny_params).fit(stream, y)
    reference = AttentionCNNClassifier(**tiny_params).fit(X, y)
    assert list(model.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(
        model.predict_proba(stream), reference.predict_proba(X)
    )


def test_an_arrow_stream_without_pyarrow_says_what_to_install(monkeypatch):
    stream = _ArrowStreamTable(_as_foreign_frame(pd.DataFrame({"a": [1.0]}), "pyarrow"))
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow fails
    with pytest.raises(ImportError, match="_ArrowStreamTable.*pip install pyarrow"):
        AttentionCNNRegressor().fit(stream, [1.0])


def test_grid_search_in_a_pipeline_keeps_plain_parameter_names(
    mixed_frame, tiny_params
):
    X, y = mixed_frame
    pipe = make_pipeline(_preprocess(), AttentionCNNClassifier(**tiny_params))
    grid = {
        "attentioncnnclassifier__attention": ["none", "multihead", "mha"],
        "attentioncnnclassifier__n_heads": [1, 2],
    }
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 6
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    best = search.best_estimator_[-1]
    assert best.attention in grid["attentioncnnclassifier__attention"]
    assert search.predict(X).shape == y.shape


def test_grid_search_over_every_attention_block_on_real_data():
    """The foundation issue's acceptance check, on 600 rows of UCI Adult."""
    from sk_tabattn.datasets import load_adult

    X, y = load_adult(n_rows=600, random_state=0)
    grid = {
        "attention": ["none", "self", "multihead", "se", "mha", "row"],
        "n_heads": [1, 2],
    }
    est = AttentionCNNClassifier(max_epochs=5, random_state=0)
    search = GridSearchCV(est, grid, cv=3, n_jobs=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 12
    assert (search.cv_results_["mean_test_score"] > 0.6).all()


def _fresh_process_predictions(path, X_path, method):
    code = textwrap.dedent(
        f"""
        import joblib, numpy as np
        model = joblib.load({str(path)!r})
        X = joblib.load({str(X_path)!r})
        np.save({str(path) + ".npy"!r}, getattr(model, {method!r})(X))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    return np.load(str(path) + ".npy", allow_pickle=True)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "pipeline"])
def test_pickle_round_trip_in_a_fresh_process(kind, mixed_frame, tiny_params, tmp_path):
    X, y = mixed_frame
    if kind == "classifier":
        model, method = (
            AttentionCNNClassifier(**tiny_params, attention="row"),
            "predict_proba",
        )
    elif kind == "regressor":
        model, method = AttentionCNNRegressor(**tiny_params), "predict"
        y = X["income"].to_numpy() / 1e4
    else:
        model = make_pipeline(_preprocess(), AttentionCNNClassifier(**tiny_params))
        method = "predict_proba"
    model.fit(X, y)
    path, X_path = tmp_path / "model.joblib", tmp_path / "X.joblib"
    joblib.dump(model, path)
    joblib.dump(X, X_path)
    expected = getattr(model, method)(X)
    np.testing.assert_array_equal(
        _fresh_process_predictions(path, X_path, method), expected
    )


def test_pickle_before_fit(tiny_params):
    import pickle

    clf = AttentionCNNClassifier(**tiny_params)
    again = pickle.loads(pickle.dumps(clf))
    assert again.get_params() == clf.get_params()
