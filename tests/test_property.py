"""Property-based tests: random small tables either work or raise ValueError/TypeError.

Hypothesis draws DataFrames with mixed dtypes, missing values, odd column
names, and categories at predict time that fit never saw. Whatever it draws,
``fit``/``predict`` must either work (finite predictions of the right shape,
probabilities summing to 1) or raise ``ValueError``/``TypeError``: never
another exception. ``derandomize=True`` makes the examples the same on every
run.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor, TabularEncoder

# When a test fails, hypothesis's pytest plugin imports libcst to print the
# failing example as a patch; libcst triggers mypy_extensions' DeprecationWarning,
# an error under our pytest config, which would abort the whole session with an
# INTERNALERROR instead of reporting the failure. Importing it here, warning
# ignored, avoids that (a setup.cfg filterwarnings entry would too).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # libcst not installed: nothing to import
        pass

TINY = {
    "d_token": 4,
    "n_heads": 2,
    "attention_dim": 4,
    "n_blocks": 1,
    "max_epochs": 1,
    "batch_size": 16,
    "early_stopping": False,
    "random_state": 0,
}


ESTIMATOR_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENCODER_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SEEN = ["a", "b", "c", "", " ", "é"]
UNSEEN = ["zz", "unseen", "A"]

finite = st.floats(-1e6, 1e6, allow_nan=False, width=32)
maybe_nan = st.one_of(finite, st.just(np.nan))


def _column(draw, kind: str, n: int, categories: list[str]):
    """One column of ``kind``; categorical kinds draw from ``categories``."""
    cat = st.one_of(st.sampled_from(categories), st.none())
    if kind == "float":
        return pd.Series(draw(st.lists(maybe_nan, min_size=n, max_size=n)))
    if kind == "float with inf":
        values = st.one_of(maybe_nan, st.sampled_from([np.inf, -np.inf]))
        return pd.Series(draw(st.lists(values, min_size=n, max_size=n)))
    if kind == "int":
        values = draw(st.lists(st.integers(-1000, 1000), min_size=n, max_size=n))
        return pd.Series(values, dtype="int64")
    if kind == "Int64":
        ints = st.one_of(st.integers(-5, 5), st.none())
        values = draw(st.lists(ints, min_size=n, max_size=n))
        return pd.Series(pd.array(values, dtype="Int64"))
    if kind == "Float64":
        floats = st.one_of(finite, st.none())
        values = draw(st.lists(floats, min_size=n, max_size=n))
        return pd.Series(pd.array(values, dtype="Float64"))
    if kind == "bool":
        return pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    if kind == "boolean":
        values = st.one_of(st.booleans(), st.none())
        return pd.Series(
            draw(st.lists(values, min_size=n, max_size=n)), dtype="boolean"
        )
    if kind == "object numbers":
        values = st.one_of(st.integers(-9, 9), finite, st.none())
        return pd.Series(draw(st.lists(values, min_size=n, max_size=n)), dtype=object)
    values = draw(st.lists(cat, min_size=n, max_size=n))
    if kind == "str":
        return pd.Series(values, dtype="str")
    if kind == "string":
        return pd.Series(values, dtype="string")
    if kind == "object":
        return pd.Series(values, dtype=object)
    if kind == "category":
        return pd.Series(pd.Categorical(values))
    if kind == "mixed":
        numbers = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        return pd.Series(
            [
                v if i % 2 else num
                for i, (v, num) in enumerate(zip(values, numbers, strict=True))
            ],
            dtype=object,
        )
    if kind == "all missing":
        return pd.Series([np.nan] * n)
    assert kind == "constant"
    return pd.Series([draw(finite)] * n)


KINDS = [
    "float",
    "float",
    "int",
    "Int64",
    "Float64",
    "bool",
    "boolean",
    "object numbers",
    "str",
    "string",
    "object",
    "category",
    "all missing",
    "constant",
    "mixed",
    "float with inf",
]

odd_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6
)


@st.composite
def tables(draw, min_rows: int = 6, max_rows: int = 24):
    """A fit table and a predict table with the same columns, kinds and names."""
    n_columns = draw(st.integers(1, 4))
    kinds = draw(
        st.lists(st.sampled_from(KINDS), min_size=n_columns, max_size=n_columns)
    )
    naming = draw(st.sampled_from(["odd", "odd", "odd", "odd", "int", "mixed"]))
    if naming == "odd":
        names = []
        for j, name in enumerate(draw(st.lists(odd_names, min_size=n_columns))):
            names.append(name if name not in names else f"{name}#{j}")
        names = (names + [f"extra{j}" for j in range(n_columns)])[:n_columns]
    elif naming == "int":
        names = list(range(n_columns))
    else:  # a TypeError from scikit-learn, if there are two columns or more
        names = [*range(n_columns - 1), "name"]
    n_fit = draw(st.integers(min_rows, max_rows))
    n_new = draw(st.integers(1, 8))
    fit = pd.DataFrame(
        {j: _column(draw, k, n_fit, SEEN) for j, k in enumerate(kinds)}
    ).set_axis(names, axis=1)
    new = pd.DataFrame(
        {j: _column(draw, k, n_new, SEEN + UNSEEN) for j, k in enumerate(kinds)}
    ).set_axis(names, axis=1)
    note(f"kinds={kinds}\nfit=\n{fit!r}\nnew=\n{new!r}")
    return fit, new


def _fit_or_reject(estimator, X, y) -> bool:
    try:
        estimator.fit(X, y)
    except (ValueError, TypeError) as exc:
        note(f"fit raised {type(exc).__name__}: {exc}")
        event(f"fit raised {type(exc).__name__}")
        return False
    event("fit worked")
    return True


def _predict_checked(predict, X, check):
    """Predict on the fit table must work; on new rows it may raise only
    ValueError/TypeError (e.g. inf in a numeric column)."""
    check(predict(X[0]), X[0])
    try:
        out = predict(X[1])
    except (ValueError, TypeError) as exc:
        note(f"predict on new rows raised {type(exc).__name__}: {exc}")
        event(f"predict on new rows raised {type(exc).__name__}")
        return
    event("predict on new rows worked")
    check(out, X[1])


@ESTIMATOR_SETTINGS
@given(data=st.data(), X=tables())
def test_classifier_works_or_raises_value_or_type_error(data, X):
    labels = data.draw(st.sampled_from([["yes", "no"], [0, 1, 2], [True, False]]))
    y = data.draw(
        st.lists(st.sampled_from(labels), min_size=len(X[0]), max_size=len(X[0]))
    )
    clf = AttentionCNNClassifier(**TINY)
    if not _fit_or_reject(clf, X[0], y):
        return

    def check(proba, frame):
        assert proba.shape == (len(frame), len(clf.classes_))
        assert np.isfinite(proba).all() and (proba >= 0).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)

    _predict_checked(clf.predict_proba, X, check)
    assert set(clf.predict(X[0])) <= set(clf.classes_)


@ESTIMATOR_SETTINGS
@given(data=st.data(), X=tables())
def test_regressor_works_or_raises_value_or_type_error(data, X):
    n_targets = data.draw(st.sampled_from([None, 2]))
    n = len(X[0])
    values = st.lists(
        finite, min_size=n * (n_targets or 1), max_size=n * (n_targets or 1)
    )
    y = np.array(data.draw(values), dtype=np.float64)
    y = y if n_targets is None else y.reshape(n, n_targets)
    reg = AttentionCNNRegressor(**TINY)
    if not _fit_or_reject(reg, X[0], y):
        return

    def check(pred, frame):
        assert pred.shape == (len(frame),) + y.shape[1:]
        assert np.isfinite(pred).all()

    _predict_checked(reg.predict, X, check)


@ENCODER_SETTINGS
@given(X=tables(min_rows=1, max_rows=30))
def test_encoder_works_or_raises_value_or_type_error(X):
    encoder = TabularEncoder(min_frequency=2)
    if not _fit_or_reject(encoder, X[0], None):
        return

    def check(out, frame):
        assert out.shape == frame.shape
        table = encoder.encode(frame)
        finite_or_missing = np.isfinite(table.x_num) | np.isnan(table.x_num)
        assert finite_or_missing.all()
        assert (table.x_cat >= 0).all()
        assert (table.x_cat < np.asarray(encoder.cardinalities_)).all()

    _predict_checked(encoder.transform, X, check)
