"""Bad input gets a clear error that names the problem, and loses nothing."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _params import FAST

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor, TabularEncoder

N = 40


def _X(n=N, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "income": rng.lognormal(10, 1, n),
        }
    )


def _y_class(n=N):
    return np.array(["no", "yes"] * (n // 2))


def _y_reg(n=N):
    return np.linspace(0.0, 1.0, n)


def _clf(**params):
    return AttentionCNNClassifier(**{**FAST, **params})


def _reg(**params):
    return AttentionCNNRegressor(**{**FAST, **params})


ESTIMATORS = [
    pytest.param(_clf, _y_class, id="classifier"),
    pytest.param(_reg, _y_reg, id="regressor"),
]


@pytest.fixture(scope="module")
def fitted_clf():
    return _clf().fit(_X(), _y_class())


# -- X: the errors of section 3 of the issue ------------------------------------------
@pytest.mark.parametrize("make, target", ESTIMATORS)
@pytest.mark.parametrize(
    "X, message",
    [
        (_X().iloc[:0], "Found array with 0 sample(s) (shape=(0, 3))"),
        (np.empty((0, 3)), "Found array with 0 sample(s) (shape=(0, 3))"),
        (pd.DataFrame(index=range(N)), "Found array with 0 feature(s) (shape=(40, 0))"),
    ],
    ids=["empty-frame", "empty-array", "no-columns"],
)
def test_empty_X(make, target, X, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make().fit(X, target()[: len(X)])


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_y_of_another_length(make, target):
    message = "Found input variables with inconsistent numbers of samples: [40, 39]"
    with pytest.raises(ValueError, match=re.escape(message)):
        make().fit(_X(), target()[:-1])


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_inf_in_a_numeric_column_names_it(make, target):
    X = _X()
    X.loc[3, "income"] = np.inf
    message = "Input X contains infinity in column(s) 'income'"
    with pytest.raises(ValueError, match=re.escape(message)):
        make().fit(X, target())


@pytest.mark.parametrize("make, target", ESTIMATORS)
@pytest.mark.parametrize(
    "column, message",
    [
        (
            pd.date_range("2024-01-01", periods=N),
            "Column 'when': a datetime column cannot be used directly. Convert it "
            "to numbers first, e.g. (X[col] - X[col].min()).dt.days",
        ),
        (
            pd.date_range("2024-01-01", periods=N, tz="Europe/Paris"),
            "Column 'when': a datetime column cannot be used directly",
        ),
        (
            pd.to_timedelta(np.arange(N), unit="h"),
            "Column 'when': a timedelta column cannot be used directly. Convert it "
            "to numbers first, e.g. X[col].dt.total_seconds()",
        ),
        (
            pd.period_range("2024-01", periods=N, freq="M"),
            "Column 'when': a period column cannot be used directly",
        ),
    ],
    ids=["datetime", "datetime-tz", "timedelta", "period"],
)
def test_time_columns_say_how_to_convert(make, target, column, message):
    X = _X().assign(when=column)
    with pytest.raises(TypeError, match=re.escape(message)):
        make().fit(X, target())


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_mixed_types_in_one_column(make, target):
    X = _X().assign(code=[1, "A"] * (N // 2))
    message = "Column 'code' mixes values of types int (e.g. 1), str (e.g. 'A')"
    with pytest.raises(TypeError, match=re.escape(message)):
        make().fit(X, target())


def test_mixed_types_error_says_how_to_fix():
    X = _X().assign(code=[1.5, "A"] * (N // 2))
    with pytest.raises(TypeError, match=r"\.astype\(str\).*pd\.to_numeric"):
        TabularEncoder().fit(X)


def test_objects_that_are_neither_numbers_nor_strings():
    X = _X().assign(box=[{"a": 1}] * N)
    with pytest.raises(TypeError, match=re.escape("Column 'box' holds values of type")):
        TabularEncoder().fit(X)


def test_a_numpy_array_of_bytes_says_to_decode_it():
    X = np.array([[b"a", b"1.5"], [b"b", b"2.5"]] * 10)  # h5py, np.loadtxt(bytes)
    message = "X is a numpy array of bytes (dtype |S3), whose encoding is unknown."
    with pytest.raises(TypeError, match=re.escape(message)):
        _clf().fit(X, [0, 1] * 10)
    fitted = _clf().fit(X.astype(str), [0, 1] * 10)
    with pytest.raises(TypeError, match=re.escape(message)):
        fitted.predict(X)


def test_duplicated_column_names_encoder():
    X = pd.concat([_X(), _X()[["age"]]], axis=1)
    message = "X has duplicated column names: 'age'. Rename them"
    with pytest.raises(ValueError, match=re.escape(message)):
        TabularEncoder().fit(X)


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_duplicated_column_names(make, target):
    X = pd.concat([_X(), _X()[["age"]]], axis=1)
    message = "X has duplicated column names: 'age'. Rename them"
    with pytest.raises(ValueError, match=re.escape(message)):
        make().fit(X, target())


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_duplicated_column_names_raise_a_value_error_naming_the_column(make, target):
    # Whoever raises it (us, or sklearn through narwhals today), it names 'age'.
    X = pd.concat([_X(), _X()[["age"]]], axis=1)
    with pytest.raises(ValueError, match="'age'"):
        make().fit(X, target())


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_non_string_column_names_mixed_with_strings(make, target):
    X = _X().rename(columns={"age": 0})
    message = (
        "Feature names are only supported if all input features have string names, "
        "but your input has ['int', 'str'] as feature name / column name types."
    )
    with pytest.raises(TypeError, match=re.escape(message)):
        make().fit(X, target())


def test_all_integer_column_names_are_accepted():
    X = _X().set_axis([0, 1, 2], axis=1)
    clf = _clf().fit(X, _y_class())
    assert not hasattr(clf, "feature_names_in_")
    assert clf.predict(X).shape == (N,)


# -- y -----------------------------------------------------------------------------
def _at_row(row, value, values):
    """``values`` (an array) with ``value`` at ``row``, as an object array."""
    values = values.astype(object)
    values[row] = value
    return values


@pytest.mark.parametrize(
    "y, message",
    [
        (_at_row(5, np.nan, _y_reg()).astype(float), "the first (nan) at row 5."),
        (_at_row(5, np.inf, _y_reg()).astype(float), "the first (inf) at row 5."),
        # None in an object array passes scikit-learn's check, which runs before
        # the conversion to floats, and used to reach the network as NaN.
        (pd.Series(_at_row(5, None, _y_reg())), "the first (None) at row 5."),
        (pd.array(_at_row(5, None, _y_reg()), "Float64"), "the first (<NA>) at row 5."),
        (_at_row(5, "nan", _y_reg().astype(str)).astype(str), "('nan') at row 5."),
        (
            pd.DataFrame({"p": _y_reg(), "q": np.where(np.arange(N) == 7, np.nan, 1)}),
            "the first (nan) at row 7 of column 'q'.",
        ),
    ],
    ids=["nan", "inf", "object-None", "Float64-NA", "str-nan", "dataframe"],
)
def test_missing_or_infinite_targets_are_named(y, message):
    named = r"y has 1 missing or infinite value\(s\)"
    with pytest.raises(ValueError, match=named) as err:
        _reg().fit(_X(), y)
    assert message in str(err.value)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
def test_nan_labels_are_named_and_inf_labels_refused():
    y = (_y_class() == "yes").astype(float)
    y[5] = np.nan
    message = "y has 1 missing label(s) (None, NaN or pd.NA), the first at row 5."
    with pytest.raises(ValueError, match=re.escape(message)):
        _clf().fit(_X(), y)
    y[5] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        _clf().fit(_X(), y)


def _with_missing(dtype, missing):
    y = pd.Series(["no", "yes"] * (N // 2), dtype=object)
    y[5] = missing
    return y if dtype is None else y.astype(dtype)


@pytest.mark.parametrize(
    "y",
    [
        _with_missing(None, None),
        _with_missing(None, np.nan),
        pytest.param(
            _with_missing("str", None),
            # Before pandas 3, astype("str") turns None into the label "None".
            marks=pytest.mark.skipif(
                int(pd.__version__.split(".")[0]) < 3, reason="pandas < 3"
            ),
        ),
        _with_missing("string", pd.NA),
        _with_missing("category", None),
    ],
    ids=["object-None", "object-NaN", "str", "string-NA", "category"],
)
def test_missing_labels_are_named(y):
    message = "y has 1 missing label(s) (None, NaN or pd.NA), the first at row 5."
    with pytest.raises(ValueError, match=re.escape(message)):
        _clf().fit(_X(), y)


def test_single_class():
    with pytest.raises(ValueError, match="needs samples of at least 2 classes"):
        _clf().fit(_X(), ["yes"] * N)


def test_single_class_message_shows_the_label():
    message = "but the data contains only one class: 'yes'."
    with pytest.raises(ValueError, match=re.escape(message)):
        _clf().fit(_X(), ["yes"] * N)


def test_continuous_target_for_the_classifier():
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        _clf().fit(_X(), np.linspace(0, 1, N))


@pytest.mark.parametrize("as_object", [False, True], ids=["str", "object"])
def test_strings_as_regression_target(as_object):
    y = _y_class().astype(object) if as_object else _y_class()
    message = (
        "AttentionCNNRegressor needs numeric targets, but y holds 'no' at row 0. "
        "For class labels, use AttentionCNNClassifier."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _reg().fit(_X(), y)


# -- weights -----------------------------------------------------------------------
ZERO_WEIGHTS = "sample_weight (times class_weight) sums to zero"


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_negative_sample_weight(make, target):
    weights = np.ones(N)
    weights[2] = -1.0
    message = "Negative values in data passed to `sample_weight`"
    with pytest.raises(ValueError, match=re.escape(message)):
        make().fit(_X(), target(), sample_weight=weights)


@pytest.mark.parametrize("make, target", ESTIMATORS)
@pytest.mark.parametrize(
    "weights, pattern",
    [
        (np.ones(N - 1), re.escape("sample_weight.shape == (39,), expected (40,)!")),
        (np.r_[np.nan, np.ones(N - 1)], re.escape("Input sample_weight contains NaN.")),
        # scikit-learn >= 1.7 says the first; before, fit's own check says the second.
        (
            np.zeros(N),
            re.escape("Sample weights must contain at least one non-zero number.")
            + "|"
            + re.escape(ZERO_WEIGHTS),
        ),
    ],
    ids=["length", "nan", "all-zero"],
)
def test_bad_sample_weight(make, target, weights, pattern):
    with pytest.raises(ValueError, match=pattern):
        make().fit(_X(), target(), sample_weight=weights)


def test_class_weight_that_zeroes_every_row():
    with pytest.raises(ValueError, match=re.escape(ZERO_WEIGHTS)):
        _clf(class_weight={"no": 0.0, "yes": 0.0}).fit(_X(), _y_class())


@pytest.mark.parametrize(
    "weight, shown", [(np.inf, "inf"), (-2.0, "-2.0"), ("2", "'2'"), (None, "None")]
)
def test_class_weight_that_is_not_a_finite_non_negative_number(weight, shown):
    message = (
        "class_weight values must be finite and non-negative numbers. "
        f"Got {{'yes': {shown}}}."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _clf(class_weight={"yes": weight}).fit(_X(), _y_class())


def test_class_weight_key_that_is_not_a_class():
    message = "class_weight has keys ['maybe'] that are not classes of y"
    with pytest.raises(ValueError, match=re.escape(message)):
        _clf(class_weight={"yes": 2.0, "maybe": 1.0}).fit(_X(), _y_class())


# -- predict -------------------------------------------------------------------------
def test_wrong_number_of_features_at_predict():
    X = _X().to_numpy()[:, [0, 2]].astype(float)
    clf = _clf().fit(X, _y_class())
    message = "X has 3 features, but AttentionCNNClassifier is expecting 2 features"
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.predict(np.c_[X, X[:, :1]])


def test_missing_column_at_predict(fitted_clf):
    message = "Feature names seen at fit time, yet now missing:\n- city"
    with pytest.raises(ValueError, match=re.escape(message)):
        fitted_clf.predict(_X().drop(columns="city"))


def test_reordered_columns_at_predict(fitted_clf):
    message = "Feature names must be in the same order as they were in fit."
    with pytest.raises(ValueError, match=re.escape(message)):
        fitted_clf.predict(_X()[["city", "age", "income"]])


def test_renamed_column_at_predict(fitted_clf):
    message = "Feature names unseen at fit time:\n- town"
    with pytest.raises(ValueError, match=re.escape(message)):
        fitted_clf.predict(_X().rename(columns={"city": "town"}))


def test_array_at_predict_after_a_dataframe_warns(fitted_clf):
    X = _X()
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = fitted_clf.predict_proba(X.to_numpy())
    np.testing.assert_array_equal(from_array, fitted_clf.predict_proba(X))


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            {"income": [np.inf] + [1.0] * (N - 1)},
            ValueError,
            "Input X contains infinity in column(s) 'income'",
        ),
        (
            {"age": ["40"] * N},
            ValueError,
            "Column 'age' was numeric in fit but holds strings or categories now",
        ),
        (
            {"age": pd.date_range("2024", periods=N)},
            TypeError,
            "Column 'age': a datetime column cannot be used directly",
        ),
    ],
    ids=["inf", "strings", "datetime"],
)
def test_bad_values_at_predict_name_the_column(fitted_clf, change, error, message):
    with pytest.raises(error, match=re.escape(message)):
        fitted_clf.predict(_X().assign(**change))


def test_empty_X_at_predict(fitted_clf):
    with pytest.raises(ValueError, match=re.escape("Found array with 0 sample(s)")):
        fitted_clf.predict(_X().iloc[:0])


# -- accepted input --------------------------------------------------------------------
@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_all_missing_and_constant_columns_are_accepted(make, target):
    X = _X().assign(
        empty=np.nan,
        const=7.0,
        same="x",
        empty_cat=pd.Series([None] * N, dtype="str"),
    )
    model = make(categorical_features=["city", "same", "empty_cat"]).fit(X, target())
    out = model.predict_proba(X) if make is _clf else model.predict(X)
    assert np.isfinite(out).all() and len(out) == N


@pytest.mark.parametrize("make, target", ESTIMATORS)
def test_sparse_input_is_supported_and_equals_dense(make, target):
    rng = np.random.RandomState(0)
    dense = sp.random(N, 6, density=0.3, random_state=rng).toarray()
    from_sparse = make().fit(sp.csr_matrix(dense), target())
    expected = make().fit(dense, target()).predict(dense)
    for fmt in ("csr", "csc", "coo"):
        X = sp.coo_matrix(dense).asformat(fmt)
        np.testing.assert_array_equal(from_sparse.predict(X), expected)


# -- a failed call loses nothing ------------------------------------------------------
BAD_FITS = {
    "inf": lambda X: X.assign(income=[np.inf] * N),
    "datetime": lambda X: X.assign(when=pd.Timestamp("2024-01-01")),
    "mixed": lambda X: X.assign(code=[1, "A"] * (N // 2)),
    "duplicated": lambda X: pd.concat([X, X[["age"]]], axis=1),
    "name types": lambda X: X.rename(columns={"age": 0}),
}


@pytest.mark.parametrize("key", sorted(BAD_FITS))
def test_failed_fit_does_not_modify_the_dataframe(key):
    X = BAD_FITS[key](_X())
    X["city"] = X["city"].astype("category")
    copy = X.copy()
    with pytest.raises((ValueError, TypeError)):
        _clf().fit(X, _y_class())
    pd.testing.assert_frame_equal(X, copy)


def test_failed_fit_on_y_or_weights_does_not_modify_them():
    X, y = _X(), pd.Series(_y_class())
    weights = np.ones(N)
    weights[0] = -1
    X_copy, y_copy, w_copy = X.copy(), y.copy(), weights.copy()
    with pytest.raises(ValueError):
        _clf().fit(X, y, sample_weight=weights)
    pd.testing.assert_frame_equal(X, X_copy)
    pd.testing.assert_series_equal(y, y_copy)
    np.testing.assert_array_equal(weights, w_copy)


def _state(model):
    return {k: v.clone() for k, v in model.net_.module_.state_dict().items()}


def test_failed_predict_does_not_corrupt_the_model(fitted_clf):
    X = _X()
    before = fitted_clf.predict_proba(X)
    weights = _state(fitted_clf)
    attributes = (
        fitted_clf.n_features_in_,
        list(fitted_clf.feature_names_in_),
        list(fitted_clf.classes_),
    )
    bad_inputs = [
        X.assign(income=np.inf),
        X.assign(age="forty"),
        X.drop(columns="city"),
        X[["city", "age", "income"]],
        X.iloc[:0],
        X.assign(extra=1.0),
    ]
    for bad in bad_inputs:
        copy = bad.copy()
        with pytest.raises((ValueError, TypeError)):
            fitted_clf.predict_proba(bad)
        pd.testing.assert_frame_equal(bad, copy)
    np.testing.assert_array_equal(fitted_clf.predict_proba(X), before)
    for name, value in _state(fitted_clf).items():
        assert torch.equal(value, weights[name]), name
    assert attributes == (
        fitted_clf.n_features_in_,
        list(fitted_clf.feature_names_in_),
        list(fitted_clf.classes_),
    )


def test_failed_refit_keeps_the_fitted_model():
    X = _X()
    clf = _clf().fit(X, _y_class())
    before = clf.predict_proba(X)
    with pytest.raises(TypeError, match="Column 'when'"):
        clf.fit(X.assign(when=pd.Timestamp("2024")), _y_class())
    np.testing.assert_array_equal(clf.predict_proba(X), before)
