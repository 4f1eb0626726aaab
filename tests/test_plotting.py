"""Plots render headless (Agg) to PNG files; a clear error without matplotlib."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sk_tabattn import AttentionCNNClassifier
from sk_tabattn.plotting import (
    plot_feature_attention,
    plot_feature_importances,
    plot_learning_curves,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted(mixed_frame):
    X, y = mixed_frame
    params = {"d_token": 8, "n_heads": 2, "max_epochs": 6, "random_state": 0}
    return AttentionCNNClassifier(**params).fit(X, y), X


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def save_png(ax, path):
    ax.figure.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    return data


@pytest.mark.parametrize("kind", ["attention", "attribution"])
def test_feature_attention_heatmap(fitted, tmp_path, kind):
    clf, X = fitted
    ex = clf.explain(X.iloc[:12])
    ax = plot_feature_attention(ex, kind=kind)
    save_png(ax, tmp_path / f"{kind}.png")
    image = ax.get_images()[0]
    table = ex.feature_attention if kind == "attention" else ex.feature_attribution
    np.testing.assert_allclose(image.get_array(), table.to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == list(X.columns)
    if kind == "attribution":  # diverging scale centred on 0
        low, high = image.get_clim()
        assert low == -high


def test_feature_attention_heatmap_on_given_axes_and_max_rows(fitted):
    clf, X = fitted
    _, ax = plt.subplots()
    assert plot_feature_attention(clf.explain(X), max_rows=5, ax=ax) is ax
    assert ax.get_images()[0].get_array().shape == (5, X.shape[1])


def test_feature_attention_rejects_other_inputs(fitted):
    with pytest.raises(TypeError, match="Got ndarray instead"):
        plot_feature_attention(np.zeros((2, 2)))
    clf, X = fitted
    with pytest.raises(ValueError, match="kind must be 'attention' or 'attribution'"):
        plot_feature_attention(clf.explain(X.iloc[:2]), kind="gates")


def test_feature_importances_bar_chart(fitted, tmp_path):
    clf, X = fitted
    ax = plot_feature_importances(clf)
    save_png(ax, tmp_path / "importances.png")
    widths = [bar.get_width() for bar in ax.patches]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert widths == sorted(widths)  # largest on top
    assert sorted(labels) == sorted(X.columns)
    by_name = dict(zip(clf.feature_names_in_, clf.feature_importances_, strict=True))
    assert widths[-1] == pytest.approx(by_name[labels[-1]])


def test_feature_importances_of_a_pipeline_and_of_raw_values(fitted):
    clf, X = fitted
    pipe = make_pipeline(FunctionTransformer(), clf)
    ax = plot_feature_importances(pipe, max_features=2)
    assert len(ax.patches) == 2
    ax = plot_feature_importances([0.1, 0.9])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x0", "x1"]
    with pytest.raises(ValueError, match="Got 3 feature names for 2 importances"):
        plot_feature_importances([0.1, 0.9], feature_names=["a", "b", "c"])
    with pytest.raises(NotFittedError, match="call fit before plotting it"):
        plot_feature_importances(AttentionCNNClassifier())


@pytest.mark.parametrize("max_features", [0, -1])
def test_feature_importances_refuse_fewer_than_one_bar(fitted, max_features):
    # -1 once sliced off the least important bar without a word.
    clf, X = fitted
    message = (
        f"max_features must be a positive int or None. Got {max_features} instead."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_feature_importances(clf, max_features=max_features)
    assert len(plot_feature_importances(clf, max_features=None).patches) == X.shape[1]


def test_feature_attention_refuses_fewer_than_one_row(fitted):
    clf, X = fitted
    message = "max_rows must be a positive int. Got 0 instead."
    with pytest.raises(ValueError, match=re.escape(message)):
        plot_feature_attention(clf.explain(X.iloc[:2]), max_rows=0)


@pytest.mark.parametrize(
    "plot", [plot_learning_curves, plot_feature_importances], ids=lambda f: f.__name__
)
def test_plots_of_an_unfitted_estimator_say_to_fit_it(plot):
    attribute = "history_" if plot is plot_learning_curves else "feature_importances_"
    message = (
        f"This AttentionCNNClassifier is not fitted yet (it has no {attribute}): "
        "call fit before plotting it."
    )
    for estimator in (
        AttentionCNNClassifier(),
        make_pipeline(FunctionTransformer(), AttentionCNNClassifier()),
    ):
        with pytest.raises(NotFittedError, match=re.escape(message)):
            plot(estimator)
    # A fitted estimator of another kind is not told to fit again.
    fitted_other = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(
        TypeError, match=f"Got LogisticRegression, which has no {attribute}"
    ):
        plot(fitted_other)


def test_learning_curves(fitted, tmp_path):
    clf, _ = fitted
    ax = plot_learning_curves(clf)
    save_png(ax, tmp_path / "curves.png")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train loss", "valid loss"}
    epochs = list(range(1, len(clf.history_) + 1))
    assert list(lines["train loss"].get_xdata()) == epochs
    np.testing.assert_allclose(
        lines["valid loss"].get_ydata(), clf.history_[:, "valid_loss"]
    )
    assert any("lowest valid loss" in t.get_text() for t in ax.get_legend().texts)


def test_learning_curves_without_validation(mixed_frame, tmp_path):
    X, y = mixed_frame
    clf = AttentionCNNClassifier(early_stopping=False, max_epochs=2, random_state=0)
    ax = plot_learning_curves(clf.fit(X, y).history_, log_scale=True)
    save_png(ax, tmp_path / "train_only.png")
    assert [line.get_label() for line in ax.get_lines()] == ["train loss"]
    assert ax.get_yscale() == "log"
    with pytest.raises(TypeError, match="a skorch History"):
        plot_learning_curves(object())


@pytest.fixture
def hide_matplotlib(monkeypatch):
    """Make matplotlib look not installed (skops' "not installed" fixture)."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    ("plot", "arg"),
    [
        (plot_feature_importances, [0.5, 0.5]),
        (plot_learning_curves, [{"epoch": 1, "train_loss": 1.0}]),
    ],
)
def test_missing_matplotlib_says_how_to_install_it(hide_matplotlib, plot, arg):
    with pytest.raises(ImportError, match=r"pip install sk_tabattn\[plot\]"):
        plot(arg)


def test_importing_the_package_does_not_import_matplotlib():
    import subprocess

    code = (
        "import sys, sk_tabattn, sk_tabattn.plotting, sk_tabattn.cli; "
        "sys.exit('matplotlib' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
