"""TabularEncoder: column kinds, categories, numeric scaling, drift and names."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _params import FAST
from scipy.special import ndtri
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer, StandardScaler

from sk_tabattn import (
    AttentionCNNClassifier,
    AttentionCNNRegressor,
    SkTabAttnWarning,
    TabularEncoder,
    _columns,
    _scaling,
)
from sk_tabattn.nn.tokenizer import FeatureTokenizer


def _frame(n=60, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "flag": rng.rand(n) < 0.5,
        }
    )


# -- column kinds --------------------------------------------------------------
NUMERIC_COLUMNS = {
    "int64": pd.Series([1, 2, 3, 4], dtype="int64"),
    "float32": pd.Series([1.5, np.nan, 3.0, 4.0], dtype="float32"),
    "Int64 with NA": pd.Series([1, pd.NA, 3, 4], dtype="Int64"),
    "Float64 with NA": pd.Series([1.5, pd.NA, 3.0, 4.0], dtype="Float64"),
    "object numbers": pd.Series([1, None, 2.5, 4], dtype=object),
    "object all None": pd.Series([None] * 4, dtype=object),
    "uint8": pd.Series([1, 2, 3, 4], dtype="uint8"),
}
CATEGORICAL_COLUMNS = {
    "category": pd.Series(pd.Categorical(["a", "b", None, "a"])),
    "object strings": pd.Series(["a", "b", None, "a"], dtype=object),
    "str (pandas 3 default)": pd.Series(["a", "b", None, "a"], dtype="str"),
    "string[python] with NA": pd.Series(["a", "b", pd.NA, "a"], dtype="string"),
    "bool": pd.Series([True, False, True, True]),
    "boolean with NA": pd.Series([True, False, pd.NA, True], dtype="boolean"),
    "category of ints": pd.Series(pd.Categorical([1, 2, 2, 1])),
}


@pytest.mark.parametrize("key", sorted(NUMERIC_COLUMNS))
def test_numeric_kinds(key):
    X = pd.DataFrame({"x": NUMERIC_COLUMNS[key]})
    enc = TabularEncoder(numeric_transform="none").fit(X)
    assert enc.numeric_columns_.tolist() == [0]
    assert enc.categorical_columns_.tolist() == []
    expected = pd.to_numeric(X["x"].astype(object)).to_numpy(dtype=float)
    np.testing.assert_array_equal(enc.encode(X).x_num[:, 0], expected)


@pytest.mark.parametrize("key", sorted(CATEGORICAL_COLUMNS))
def test_categorical_kinds(key):
    X = pd.DataFrame({"x": CATEGORICAL_COLUMNS[key]})
    enc = TabularEncoder(min_frequency=1).fit(X)
    assert enc.categorical_columns_.tolist() == [0]
    codes = enc.encode(X).x_cat[:, 0]
    missing = X["x"].isna().to_numpy()
    assert (codes[missing] == 0).all()
    assert (codes[~missing] > 0).all()
    # Equal values get equal indices, different values different ones.
    observed = X["x"][~missing].astype(object).to_numpy()
    for a, ca in zip(observed, codes[~missing], strict=True):
        for b, cb in zip(observed, codes[~missing], strict=True):
            assert (a == b) == (ca == cb)


def test_column_order_is_numeric_then_categorical():
    X = _frame()
    enc = TabularEncoder().fit(X)
    assert enc.numeric_columns_.tolist() == [0]
    assert enc.categorical_columns_.tolist() == [1, 2]
    assert enc.token_columns_.tolist() == [0, 1, 2]
    table = enc.encode(X)
    assert table.x_num.dtype == np.float32 and table.x_num.shape == (60, 1)
    assert table.x_cat.dtype == np.int64 and table.x_cat.shape == (60, 2)


# -- categorical_features --------------------------------------------------------
@pytest.mark.parametrize(
    "spec",
    [["city", "flag"], [1, 2], np.array([False, True, True]), ("city", "flag")],
    ids=["names", "indices", "mask", "tuple"],
)
def test_categorical_features_forms(spec):
    enc = TabularEncoder(categorical_features=spec).fit(_frame())
    assert enc.categorical_columns_.tolist() == [1, 2]


def test_categorical_features_makes_a_numeric_column_categorical():
    X = pd.DataFrame({"zip": [75001, 69001, 75001, 6000] * 5, "v": np.arange(20.0)})
    enc = TabularEncoder(categorical_features=["zip"], min_frequency=1).fit(X)
    assert enc.categorical_columns_.tolist() == [0]
    assert enc.cardinalities_ == [4]
    # 75001 is the most frequent value: index 1.
    assert enc.encode(X).x_cat[0, 0] == 1
    assert enc.encode(pd.DataFrame({"zip": [13000], "v": [0.0]})).x_cat[0, 0] == 0


def test_bool_left_out_of_categorical_features_is_numeric():
    X = _frame()
    enc = TabularEncoder(categorical_features=["city"], numeric_transform="none")
    table = enc.fit(X).encode(X)
    assert enc.numeric_columns_.tolist() == [0, 2]
    np.testing.assert_array_equal(table.x_num[:, 1], X["flag"].astype(float))


def test_categorical_features_none_means_all_numeric():
    X = np.random.RandomState(0).randint(0, 3, size=(20, 2))
    enc = TabularEncoder(categorical_features=None).fit(X)
    assert enc.categorical_columns_.tolist() == []


def test_explicit_categorical_accepts_mixed_values():
    X = pd.DataFrame({"code": [1, "A", 1, "A", 2.5, None]})
    enc = TabularEncoder(categorical_features=["code"], min_frequency=1).fit(X)
    codes = enc.encode(X).x_cat[:, 0]
    assert codes[0] == codes[2] != codes[1] == codes[3]
    assert codes[5] == 0


def test_explicit_categorical_refuses_unhashable_values():
    X = pd.DataFrame({"tags": [["a"], ["b"], ["a"]], "v": [1.0, 2.0, 3.0]})
    message = "Column 'tags' is categorical but holds values that cannot be looked up"
    with pytest.raises(TypeError, match=re.escape(message)):
        TabularEncoder(categorical_features=["tags"]).fit(X)
    enc = TabularEncoder(categorical_features=["tags"]).fit(X.assign(tags="a"))
    with pytest.raises(TypeError, match=re.escape(message)):
        enc.encode(X)


@pytest.mark.parametrize(
    "spec, X, message",
    [
        (
            ["citty"],
            _frame(),
            "categorical_features names column 'citty', which is not in X. "
            "Did you mean 'city'?",
        ),
        ([5], _frame(), "categorical_features holds indices out of range for 3"),
        (
            [True, False],
            _frame(),
            "categorical_features as a boolean mask must have 3 entries",
        ),
        (
            ["city"],
            np.zeros((4, 2)),
            "categorical_features holds column names, but X has no string column",
        ),
        (
            ["city", 1],
            _frame(),
            "categorical_features must hold only column names (str), only indices",
        ),
        (
            ["flag"],
            _frame(),
            "Column 'city' holds strings or categories but is not in "
            "categorical_features",
        ),
    ],
    ids=["typo", "index", "mask-length", "names-on-array", "mixed-spec", "left-out"],
)
def test_categorical_features_errors(spec, X, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TabularEncoder(categorical_features=spec).fit(X)


def test_categorical_features_is_validated():
    with pytest.raises(ValueError, match="'categorical_features' parameter"):
        TabularEncoder(categorical_features="auto").fit(_frame())


# -- categories: missing, unknown, rare, cap --------------------------------------
def test_missing_and_unknown_share_index_zero():
    X = pd.DataFrame({"c": ["a", "b", "a", None, "b", "a"]})
    enc = TabularEncoder(min_frequency=1).fit(X)
    assert enc.categories_[0].tolist() == ["a", "b"]
    new = pd.DataFrame({"c": ["b", "never-seen", None, np.nan, "a"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either
        codes = enc.encode(new).x_cat[:, 0]
    assert codes.tolist() == [2, 0, 0, 0, 1]


def test_categories_ordered_by_frequency_then_value():
    X = pd.DataFrame({"c": ["b", "c", "a", "c", "b", "d", "c"]})
    enc = TabularEncoder(min_frequency=1).fit(X)
    assert enc.categories_[0].tolist() == ["c", "b", "a", "d"]
    assert enc.cardinalities_ == [5]


def test_rare_categories_share_one_index():
    X = pd.DataFrame({"c": ["a"] * 6 + ["b"] * 5 + ["c"] * 2 + ["d"]})
    enc = TabularEncoder(min_frequency=5).fit(X)
    assert enc.categories_[0].tolist() == ["a", "b"]
    assert enc.cardinalities_ == [4]  # 0 missing/unknown, a, b, rare
    new = pd.DataFrame({"c": ["a", "b", "c", "d", "e", None]})
    # "e" was never seen: it takes the trained rare index, not missing's 0.
    assert enc.encode(new).x_cat[:, 0].tolist() == [1, 2, 3, 3, 3, 0]
    del enc._unseen_to_rare  # an encoder pickled before the rule: as it was
    assert enc.encode(new).x_cat[:, 0].tolist() == [1, 2, 3, 3, 0, 0]


def test_new_ids_leave_the_predictions_as_they_were(tiny_params):
    # Every ID is rare in fit, so index 0 never trained; new IDs must not move
    # the predictions to it.
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"id": [f"c{i}" for i in range(120)], "a": rng.normal(size=120)})
    y = X["a"].to_numpy() > 0
    clf = AttentionCNNClassifier(**tiny_params).fit(X, y)
    new_ids = X.assign(id=[f"new{i}" for i in range(120)])
    np.testing.assert_array_equal(clf.predict_proba(new_ids), clf.predict_proba(X))


def test_high_cardinality_is_capped():
    values = [f"id{i:04d}" for i in range(2000)]
    X = pd.DataFrame({"id": np.repeat(values, 5)})
    enc = TabularEncoder(max_categories=100).fit(X)
    assert len(enc.categories_[0]) == 100
    assert enc.cardinalities_ == [102]
    codes = enc.encode(X).x_cat[:, 0]
    assert codes.max() == 101 and codes.min() == 1
    # The default cap is 512 categories with their own index.
    enc = TabularEncoder().fit(X)
    assert enc.cardinalities_ == [514]


def test_all_missing_categorical_column():
    X = pd.DataFrame({"c": pd.Series([None, None, None], dtype="str"), "v": [1, 2, 3]})
    enc = TabularEncoder(categorical_features=["c"]).fit(X)
    assert enc.cardinalities_ == [1]
    assert enc.encode(X).x_cat.tolist() == [[0], [0], [0]]


# -- dtype drift between fit and predict -------------------------------------------
def _city_frame(kind):
    values = ["paris", "lyon", None, "nice", "lyon", "paris"] * 3
    if kind == "category":
        col = pd.Categorical(values)
    elif kind == "category reordered":
        col = pd.Categorical(values, categories=["paris", "nice", "lyon", "rome"])
    elif kind == "object":
        col = pd.Series(values, dtype=object)
    elif kind == "str":
        col = pd.Series(values, dtype="str")
    else:
        col = pd.Series(values, dtype="string")
    return pd.DataFrame({"city": col, "v": np.arange(18.0)})


DRIFT_KINDS = ["category", "category reordered", "object", "str", "string"]


@pytest.mark.parametrize("fit_kind", DRIFT_KINDS)
@pytest.mark.parametrize("predict_kind", DRIFT_KINDS)
def test_dtype_drift_encodes_by_value(fit_kind, predict_kind):
    enc = TabularEncoder(min_frequency=1).fit(_city_frame(fit_kind))
    reference = TabularEncoder(min_frequency=1).fit(_city_frame("object"))
    got = enc.encode(_city_frame(predict_kind))
    expected = reference.encode(_city_frame("object"))
    np.testing.assert_array_equal(got.x_cat, expected.x_cat)
    np.testing.assert_array_equal(got.x_num, expected.x_num)


def test_drift_bool_and_integer_categories():
    enc = TabularEncoder(min_frequency=1).fit(
        pd.DataFrame({"b": [True, False] * 5, "k": pd.Categorical([1, 2] * 5)})
    )
    new = pd.DataFrame(
        {
            "b": pd.array([True, pd.NA, False, True], dtype="boolean"),
            "k": [1.0, np.nan, 2.0, 3.0],  # int categories arrive as floats
        }
    )
    x_cat = enc.encode(new).x_cat
    assert x_cat[:, 0].tolist() == [x_cat[0, 0], 0, x_cat[2, 0], x_cat[0, 0]]
    assert x_cat[0, 0] != x_cat[2, 0]
    assert x_cat[:, 1].tolist() == [1, 0, 2, 0]


def test_unscaled_columns_passed_as_they_are_warn_and_name_them():
    X = pd.DataFrame(
        {"small": [0.5, -2.0, np.nan], "income": [1e3, 5e4, np.nan], "g": [0, -150, 1]}
    )
    message = "'income', 'g' reach beyond +-100 (up to 5e+04)"
    with pytest.warns(SkTabAttnWarning, match=re.escape(message)):
        TabularEncoder(numeric_transform="none").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TabularEncoder(numeric_transform="none").fit(X[["small"]])  # unit scale
        TabularEncoder(numeric_transform="standard").fit(X)  # scaled inside


def test_drift_numeric_column_as_category_of_numbers():
    X = pd.DataFrame({"n": [1.0, 2.0, 3.0, np.nan]})
    enc = TabularEncoder(numeric_transform="none").fit(X)
    drifted = pd.DataFrame({"n": pd.Categorical([1.0, 2.0, 3.0, np.nan])})
    np.testing.assert_array_equal(enc.encode(drifted).x_num, enc.encode(X).x_num)
    as_object = pd.DataFrame({"n": pd.Series([1, 2, 3, None], dtype=object)})
    np.testing.assert_array_equal(enc.encode(as_object).x_num, enc.encode(X).x_num)


def test_numeric_column_with_strings_at_predict_names_it():
    enc = TabularEncoder().fit(_frame())
    bad = _frame().assign(num="12.5")
    with pytest.raises(ValueError, match=re.escape("Column 'num' was numeric in fit")):
        enc.encode(bad)


def test_text_in_a_column_all_missing_in_fit_says_so():
    # An empty free-text column (all None) is numeric in fit: the error said
    # it "was numeric in fit", which the user never gave it.
    X = pd.DataFrame({"comment": pd.Series([None] * 4, dtype=object), "v": 1.0})
    enc = TabularEncoder().fit(X)
    message = (
        "Column 'comment' was all missing in fit, so it was taken as numeric, but "
        "holds strings or categories now (e.g. 'late delivery'). To treat it as "
        "categorical, fit with a str dtype for it or list it in "
        "categorical_features; else pass numbers, with NaN for missing values."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        enc.encode(X.assign(comment=["late delivery", None, None, None]))


@pytest.mark.parametrize(
    "code",
    [
        [1, 2, 2] * 6,  # int64: a CSV of codes read without the letter
        [1.0, np.nan, 2.0] * 6,
        pd.Categorical([1, 2, 2] * 6),
        pd.array([1, None, 2] * 6, dtype="Int64"),
    ],
    ids=["int", "float", "category of ints", "Int64"],
)
def test_numbers_where_fit_saw_text_are_refused(code):
    # Looked up by value, 2 never matches "2": every row was silently unseen.
    X = pd.DataFrame({"code": ["1", "2", "A"] * 6, "v": np.arange(18.0)})
    enc = TabularEncoder(min_frequency=1).fit(X)
    message = "Column 'code' held text in fit but holds numbers now (e.g. 1"
    with pytest.raises(ValueError, match=re.escape(message)):
        enc.encode(X.assign(code=code))
    # Text, or only missing values, are fine.
    enc.encode(X.assign(code=[None, "2", "B"] * 6))
    enc.encode(X.assign(code=np.nan))


@pytest.mark.parametrize(
    "code",
    [["1", "2", "3"] * 6, pd.Categorical(["1", "2", "3"] * 6)],
    ids=["str", "category of str"],
)
def test_text_where_fit_saw_numbers_is_refused(code):
    X = pd.DataFrame({"code": [1, 2, 3] * 6, "v": np.arange(18.0)})
    enc = TabularEncoder(categorical_features=["code"], min_frequency=1).fit(X)
    message = "Column 'code' held numbers in fit but holds text now (e.g. '1')"
    with pytest.raises(ValueError, match=re.escape(message)):
        enc.encode(X.assign(code=code))
    enc.encode(X.assign(code=pd.Categorical([1, 2, 4] * 6)))


_BOOLEANS_NOW_TEXT = (
    "Column 'member' held booleans in fit but holds text now (e.g. 'True'), "
    "which match none of its categories. Pass it as booleans, as in fit "
    "(e.g. X['member'].map({'True': True, 'False': False}))."
)
_TEXT_NOW_BOOLEANS = (
    "Column 'member' held text in fit but holds booleans now (e.g. True), "
    "which match none of its categories. Pass it as text, as in fit "
    "(X['member'].astype('string') gives 'True' and 'False')."
)


def _as_booleans(member) -> pd.Series:
    return pd.Series(member, dtype=object).map({"True": True, "False": False})


def _as_text(member) -> pd.Series:
    return pd.Series(member).astype("string")


@pytest.mark.parametrize(
    ("fitted", "member", "message", "repair"),
    [
        (True, ["True", "False", None] * 6, _BOOLEANS_NOW_TEXT, _as_booleans),
        (
            True,
            pd.array(["True", "False", None] * 6, dtype="string"),
            _BOOLEANS_NOW_TEXT,
            _as_booleans,
        ),
        (
            True,
            pd.Categorical(["True", "False", "True"] * 6),
            _BOOLEANS_NOW_TEXT,
            _as_booleans,
        ),
        (False, [True, False, True] * 6, _TEXT_NOW_BOOLEANS, _as_text),
        (
            False,
            pd.array([True, False, None] * 6, dtype="boolean"),
            _TEXT_NOW_BOOLEANS,
            _as_text,
        ),
        (False, pd.Categorical([True, False, True] * 6), _TEXT_NOW_BOOLEANS, _as_text),
    ],
    ids=[
        "object for bool",
        "string for bool",
        "category of str for bool",
        "bool for text",
        "boolean for text",
        "category of bool for text",
    ],
)
def test_booleans_and_text_for_each_other_are_refused(fitted, member, message, repair):
    # "True" never matches True: every row was silently unseen (a bool column
    # read back from JSON or a text file, say), and the reverse.
    values = [True, False, True] * 6 if fitted else ["True", "False", "True"] * 6
    X = pd.DataFrame({"member": values, "v": np.arange(18.0)})
    enc = TabularEncoder(min_frequency=1).fit(X)
    with pytest.raises(ValueError, match=re.escape(message)):
        enc.encode(X.assign(member=member))
    fixed = X.assign(member=repair(member))
    np.testing.assert_array_equal(enc.encode(fixed).x_cat[:2], enc.encode(X).x_cat[:2])


_CODES = ["x", "y", None] * 6
_BINS = pd.cut(np.arange(18.0), 3)


@pytest.mark.parametrize(
    ("fitted", "now", "message"),
    [
        (
            [b"x", b"y", None] * 6,
            _CODES,
            "held bytes in fit but holds text now (e.g. 'x'), which match none of "
            "its categories. Pass it as bytes, as in fit (e.g. "
            "X['c'].str.encode('utf-8')).",
        ),
        (
            _CODES,
            pd.Categorical([b"x", b"y", None] * 6),
            "held text in fit but holds bytes now (e.g. b'x'), which match none of "
            "its categories. Pass it as text, as in fit (e.g. "
            "X['c'].str.decode('utf-8')).",
        ),
        (
            _BINS,
            _BINS.astype(str),  # a pd.cut column read back from a CSV
            "held intervals in fit but holds text now (e.g. '(-0.017, 5.667]'), which "
            "match none of its categories. Pass it as intervals, as in fit (pd.cut "
            "with the bins of fit; a CSV holds their text).",
        ),
        (
            _BINS,
            np.arange(18.0),
            "held intervals in fit but holds numbers now (e.g. 0.0), which match "
            "none of its categories. Pass it as intervals, as in fit.",
        ),
    ],
    ids=["text for bytes", "bytes for text", "text for intervals", "numbers for bins"],
)
def test_bytes_and_intervals_are_refused_where_they_cannot_match(fitted, now, message):
    X = pd.DataFrame({"c": fitted, "v": np.arange(18.0)})
    enc = TabularEncoder(categorical_features=["c"], min_frequency=1).fit(X)
    with pytest.raises(ValueError, match=re.escape(f"Column 'c' {message}")):
        enc.encode(X.assign(c=now))
    # The same values as objects (not a category dtype) match as before.
    as_objects = X.assign(c=pd.Series(fitted, dtype=object))
    np.testing.assert_array_equal(enc.encode(as_objects).x_cat, enc.encode(X).x_cat)


@pytest.mark.parametrize("member", [[1, 0, 1] * 6, [1.0, 0.0, np.nan] * 6])
def test_numbers_for_booleans_match_them(member):
    # 1 == True: 0/1 (a bool column through a numeric pipeline) still match.
    X = pd.DataFrame({"member": [True, False, True] * 6, "v": np.arange(18.0)})
    enc = TabularEncoder(categorical_features=["member"], min_frequency=1).fit(X)
    codes = enc.encode(X.assign(member=member)).x_cat[:2]
    np.testing.assert_array_equal(codes, enc.encode(X).x_cat[:2])


@pytest.mark.parametrize(
    ("fit_dtype", "predict_dtype"),
    [
        ("float64", "float32"),
        ("float32", "float64"),
        ("float64", "Float32"),
        ("float32", "category"),
    ],
)
def test_float_categories_match_across_precisions(fit_dtype, predict_dtype):
    # float32(0.3) != 0.3: a grade column read with dtype="float32" at predict
    # time matched no category.
    X = pd.DataFrame({"grade": [0.1, 0.3, 0.7, np.nan] * 3, "v": np.arange(12.0)})
    enc = TabularEncoder(categorical_features=["grade"], min_frequency=1)
    enc.fit(X.astype({"grade": fit_dtype}))
    expected = enc.encode(X.astype({"grade": fit_dtype})).x_cat
    assert expected[:3, 0].tolist() == [1, 2, 3]
    got = enc.encode(X.astype({"grade": predict_dtype})).x_cat
    np.testing.assert_array_equal(got, expected)


def test_float_categories_stay_apart_when_a_coarser_precision_would_merge_them():
    X = pd.DataFrame({"grade": [0.1, 0.1 + 1e-12] * 3})
    enc = TabularEncoder(categorical_features=["grade"], min_frequency=1).fit(X)
    assert enc.encode(X).x_cat[:2, 0].tolist() == [1, 2]
    # Exact lookup then: float32's 0.1 is neither.
    assert (enc.encode(X.astype("float32")).x_cat == 0).all()


def test_categorical_column_with_other_types_at_predict_is_unknown():
    enc = TabularEncoder(min_frequency=1).fit(_frame())
    new = _frame().assign(city=[1, "paris", 2.5] * 20)
    codes = enc.encode(new).x_cat[:, 0]
    assert (codes[0::3] == 0).all() and (codes[2::3] == 0).all()
    assert (codes[1::3] == enc.encode(_frame().assign(city="paris")).x_cat[0, 0]).all()


def test_pyarrow_null_and_dictionary_columns_are_read_as_their_numpy_forms():
    # read_csv(dtype_backend="pyarrow") types an empty column null[pyarrow];
    # read_parquet(dtype_backend="pyarrow") a category column dictionary<...>.
    # fit refused both, and predict the first.
    pa = pytest.importorskip("pyarrow")
    numpy_form = _city_frame("category").assign(empty=np.nan)
    arrow = numpy_form.astype(
        {"city": pd.ArrowDtype(pa.dictionary(pa.int8(), pa.string()))}
    ).assign(empty=pd.array([None] * 18, dtype=pd.ArrowDtype(pa.null())))
    dtypes = arrow.dtypes.copy()
    enc = TabularEncoder(min_frequency=1).fit(arrow)
    reference = TabularEncoder(min_frequency=1).fit(numpy_form)
    assert enc.categorical_columns_.tolist() == [0]
    assert enc.numeric_columns_.tolist() == [1, 2]
    for frame in (arrow, numpy_form):
        np.testing.assert_array_equal(enc.transform(frame), reference.transform(frame))
    np.testing.assert_array_equal(
        reference.transform(numpy_form.assign(v=arrow["empty"])),
        reference.transform(numpy_form.assign(v=np.nan)),
    )
    pd.testing.assert_series_equal(arrow.dtypes, dtypes)  # input left as it was


# -- numeric columns -----------------------------------------------------------------
def test_quantile_scaling_is_learned_in_fit():
    rng = np.random.RandomState(0)
    train = pd.DataFrame({"x": rng.lognormal(size=2000)})
    enc = TabularEncoder().fit(train)
    z = enc.encode(train).x_num[:, 0]
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.1
    # New data is scaled with the training quantiles, not its own.
    shifted = enc.encode(pd.DataFrame({"x": train["x"] * 100})).x_num[:, 0]
    assert np.median(shifted) > 2


def _tied_train_and_test(n: int = 3000):
    """Columns with and without ties (at the ends too), NaN, edge test values."""
    rng = np.random.RandomState(0)
    train = np.column_stack(
        [
            rng.normal(size=n),  # no ties
            rng.randint(0, 5, n).astype(float),  # ties everywhere, ends too
            np.where(rng.rand(n) < 0.7, 0.0, rng.rand(n)),  # one big tie at 0
            rng.exponential(size=n),
        ]
    )
    train[rng.rand(*train.shape) < 0.05] = np.nan
    qt = QuantileTransformer(
        n_quantiles=1000, output_distribution="normal", subsample=None
    ).fit(train)
    lo, hi = qt.quantiles_[0], qt.quantiles_[-1]
    test = np.vstack(
        [
            train,
            rng.normal(scale=5, size=(500, 4)),
            [lo, hi, lo + 5e-8, hi - 5e-8, lo - 1, hi + 1],
            np.tile(np.arange(5.0), (4, 1)).T,  # exactly on the tied values
        ]
    )
    return train, test, qt


def test_quantile_scaling_of_old_pickles_equals_sklearns_quantile_transformer():
    # The transform is written out (one interpolation per tie-free column,
    # ndtri for norm.ppf). A scaler pickled before tied ends took their middle
    # (no ``mid_rank_ends`` in its state) must give sklearn's values on ties,
    # NaN, the outermost quantiles, the margin next to them and out of range.
    train, test, qt = _tied_train_and_test()
    scaler = TabularEncoder().fit(train)._scaler
    del scaler.mid_rank_ends
    old = pickle.loads(pickle.dumps(scaler))
    np.testing.assert_allclose(old(test), qt.transform(test), rtol=0, atol=1e-12)
    assert np.array_equal(np.isnan(old(test)), np.isnan(test))


def test_quantile_scaling_gives_tied_ends_the_middle_of_their_range():
    # sklearn maps a value tied at the smallest or largest quantile to -5.2 or
    # +5.2 however common it is; ours gives it the middle of its quantile
    # range, like ties inside the range, and agrees with sklearn elsewhere.
    train, test, qt = _tied_train_and_test()
    z = TabularEncoder().fit(train)._scaler(test)
    assert np.array_equal(np.isnan(z), np.isnan(test))
    quantiles, references = qt.quantiles_, qt.references_
    at_tied_end = np.zeros(test.shape, dtype=bool)
    for col in range(test.shape[1]):
        q = quantiles[:, col]
        for end in (q[0], q[-1]):
            tie = np.flatnonzero(q == end)
            if len(tie) > 1:
                at = test[:, col] == end
                middle = (references[tie[0]] + references[tie[-1]]) / 2
                np.testing.assert_allclose(z[at, col], ndtri(middle), atol=1e-12)
                at_tied_end[:, col] |= at
    # Column 1 is tied at both ends (0 and 4), column 2 at 0; not column 0.
    assert at_tied_end[:, 1].sum() > 1000 and at_tied_end[:, 2].sum() > 1000
    assert not at_tied_end[:, 0].any()
    np.testing.assert_allclose(z[at_tied_end], z[at_tied_end].clip(-1.5, 1.5))
    # Within sklearn's 1e-7 margin of the outermost quantiles, values are
    # interpolated (ours) rather than clipped; compare away from it.
    lo, hi = quantiles[0], quantiles[-1]
    near_end = (np.abs(test - lo) < 1e-7) | (np.abs(test - hi) < 1e-7)
    elsewhere = ~at_tied_end & ~near_end
    np.testing.assert_allclose(
        z[elsewhere], qt.transform(test)[elsewhere], rtol=0, atol=1e-12
    )
    # Values beyond the fitted range still take the clip values.
    assert (z[test < lo] < -5.1).all() and (z[test > hi] > 5.1).all()


def test_quantile_scaling_keeps_zero_inflated_columns_in_range():
    # Half of load_digits' pixel values are 0: they went to -5.2 (and a
    # column's maximum, when tied, to +5.2), with the next value near -0.6.
    X = load_digits().data
    z = TabularEncoder().fit(X).encode(X).x_num
    assert np.abs(z).max() < 5.3
    assert (np.abs(z) > 5).mean() < 0.001
    zero, one = z[X[:, 20] == 0, 20], z[X[:, 20] == 1, 20]
    assert np.ptp(zero) == 0 and zero[0] < one[0] < zero[0] + 1


@pytest.mark.parametrize("n_rows", [1, 2, 3])
def test_quantile_scaling_fitted_on_very_few_rows_equals_sklearns(n_rows):
    # One row leaves one quantile (no segment to interpolate on).
    train = np.arange(2.0 * n_rows).reshape(n_rows, 2)
    enc = TabularEncoder().fit(train)
    qt = QuantileTransformer(n_quantiles=n_rows, output_distribution="normal")
    qt.fit(train)
    test = np.array([[-1.0, 0.0], [0.5, 1.0], [100.0, np.nan], [0.0, 2.0]])
    np.testing.assert_allclose(
        enc._scaler(test), qt.transform(test), rtol=0, atol=1e-12
    )


def test_quantile_scaling_in_row_blocks_equals_one_block(monkeypatch):
    # Blocks of 3 rows (7 values over 2 columns), ragged last block included.
    rng = np.random.RandomState(0)
    train = rng.normal(size=(200, 2))
    train[rng.rand(200) < 0.1, 1] = np.nan
    scaler = TabularEncoder().fit(train)._scaler
    test = np.vstack([train, rng.normal(scale=3, size=(31, 2))])
    whole = scaler(test)
    monkeypatch.setattr(_scaling, "_BLOCK_VALUES", 7)
    np.testing.assert_array_equal(scaler(test), whole)


def _all_tied_train_and_test():
    # Measurements rounded to a few digits, as most real numeric columns are:
    # every column has tied quantiles.
    rng = np.random.RandomState(1)
    train = np.round(rng.normal(size=(3000, 3)) * [1, 10, 100], 1)
    train[rng.rand(*train.shape) < 0.05] = np.nan
    test = np.vstack([train, np.round(rng.normal(scale=300, size=(500, 3)), 1)])
    return train, test


class _SearchSorted:
    """GridSearch's interface on plain ``searchsorted``, the reference."""

    def __init__(self, rows):
        self.rows = rows

    def __call__(self, x):
        return torch.searchsorted(self.rows, x, right=True)


@pytest.mark.parametrize(
    ("table", "fast", "fast_back"),
    [
        ("mixed", [True, False, False, True], [False, False]),
        ("all tied", [True, True, True], [True, True, True]),
    ],
)
def test_quantile_scaling_through_the_grid_gives_searchsorteds_numbers(
    monkeypatch, table, fast, fast_back
):
    # Columns without long ties are looked up through GridSearch (both ways
    # where tied), the others through searchsorted; the output is bitwise the
    # searchsorted one, and the grids are not pickled (they are rebuilt from
    # the quantiles).
    if table == "mixed":
        train, test, _ = _tied_train_and_test()
    else:
        train, test = _all_tied_train_and_test()
    scaler = TabularEncoder().fit(train)._scaler
    z = scaler(test)
    forward, backward = scaler._interpolations
    assert forward.search.fast.tolist() == fast
    assert backward.search.fast.tolist() == fast_back
    restored = pickle.loads(pickle.dumps(scaler))
    assert "_interpolations" not in vars(restored)
    np.testing.assert_array_equal(restored(test), z)
    monkeypatch.setattr(_scaling, "GridSearch", _SearchSorted)
    plain = pickle.loads(pickle.dumps(scaler))
    np.testing.assert_array_equal(plain(test), z)
    assert all(isinstance(i.search, _SearchSorted) for i in plain._interpolations)


def test_quantile_scaling_keeps_tiny_and_huge_values_finite_and_in_order(
    monkeypatch,
):
    # exp(-x) underflows to subnormals and zeros: their segments' slopes were
    # infinite, and inf * 0 gave NaN, read as missing. Between -1.7e308 and
    # 1.7e308, the quantiles and x - xp[j] overflowed: all NaN.
    rng = np.random.RandomState(0)
    tiny = np.exp(-rng.uniform(0, 800, 400))
    huge = rng.choice([-1.7e308, -1e300, 0.0, 1e300, 1.7e308], 400)
    ends = np.repeat([-1.7e308, 1.7e308], 200)
    train = np.column_stack([tiny, -tiny, huge, ends])
    extra = [
        [0.0, -5e-324, -1e308, -1e308],
        [5e-324, 0.0, 1.0, 0.0],
        [1e-310, -1e-310, 1.5e308, 1e308],
    ]
    test = np.sort(np.vstack([train, extra]), axis=0)
    scaler = TabularEncoder().fit(train)._scaler
    z = scaler(test)
    assert np.isfinite(z).all()
    assert (np.diff(z, axis=0) >= 0).all()
    assert len(np.unique(z[:, 2])) >= 5  # the huge values stay apart
    assert z[0, 3] < z[-1, 3]
    monkeypatch.setattr(_scaling, "GridSearch", _SearchSorted)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(scaler))(test), z)


def test_quantile_scaler_pickled_without_its_transform_constants_still_loads():
    # Models pickled before the written-out transform hold only the mask of
    # observed columns and the fitted QuantileTransformer; nothing else is
    # needed to encode.
    X = np.random.RandomState(0).normal(size=(200, 3))
    enc = TabularEncoder().fit(X)
    old = pickle.loads(pickle.dumps(enc))
    kept = {k: old._scaler.__dict__[k] for k in ("observed", "transformer")}
    old._scaler.__dict__.clear()
    old._scaler.__dict__.update(kept)
    loaded = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(loaded.encode(X).x_num, enc.encode(X).x_num)


def test_standard_and_none_scaling():
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, np.nan, 6.0]})
    z = TabularEncoder(numeric_transform="standard").fit(X).encode(X).x_num[:, 0]
    observed = np.array([1.0, 2.0, 3.0, 6.0])
    expected = (observed - observed.mean()) / observed.std()
    np.testing.assert_allclose(z[[0, 1, 2, 4]], expected, rtol=1e-6)
    assert np.isnan(z[3])
    raw = TabularEncoder(numeric_transform="none").fit(X).encode(X).x_num[:, 0]
    np.testing.assert_array_equal(raw, X["x"].to_numpy(dtype=np.float32))


def test_plain_numeric_columns_are_converted_as_one_block(monkeypatch):
    frame = pd.DataFrame(
        {
            "f32": np.array([1.5, np.nan, 3.25], np.float32),
            "f64": [0.1, 2.0, np.nan],
            "i8": np.array([1, -2, 3], np.int8),
            "u64": np.array([2**63 + 1, 0, 7], np.uint64),
            "b": [True, False, True],
        }
    )
    columns = np.arange(frame.shape[1])
    column_by_column = np.column_stack(
        [
            _columns.numeric_values(c, name, _columns.column_kind(c))
            for name, c in frame.items()
        ]
    )

    def per_column(*args):
        raise AssertionError("converted column by column")

    monkeypatch.setattr(_columns, "numeric_values", per_column)
    block = _columns.numeric_block(frame, columns)
    np.testing.assert_array_equal(block, column_by_column)
    assert block.dtype == np.float64 and block.flags.writeable
    # An infinite value is still refused by name.
    with pytest.raises(ValueError, match="infinity in column.*'f64'"):
        _columns.numeric_block(frame.assign(f64=[0.0, np.inf, 1.0]), columns)
    # A column that needs the checks (here an extension dtype) takes them.
    frame["ext"] = pd.array([1, None, 3], dtype="Int64")
    with pytest.raises(AssertionError, match="column by column"):
        _columns.numeric_block(frame, np.arange(frame.shape[1]))


@pytest.mark.parametrize("transform", ["quantile", "standard", "none"])
def test_missing_numeric_stays_missing(transform):
    X = pd.DataFrame(
        {
            "f": [1.0, np.nan, 3.0, 4.0],
            "i": pd.array([1, 2, pd.NA, 4], dtype="Int64"),
            "o": pd.Series([1, 2, 3, None], dtype=object),
        }
    )
    x_num = TabularEncoder(numeric_transform=transform).fit(X).encode(X).x_num
    np.testing.assert_array_equal(np.isnan(x_num), X.isna().to_numpy())


@pytest.mark.parametrize("transform", ["quantile", "standard", "none"])
def test_constant_and_all_missing_columns_are_accepted(transform):
    X = pd.DataFrame({"const": [3.0] * 6, "empty": [np.nan] * 6, "v": np.arange(6.0)})
    x_num = TabularEncoder(numeric_transform=transform).fit(X).encode(X).x_num
    assert np.isfinite(x_num[:, 0]).all() and len(set(x_num[:, 0])) == 1
    assert np.isnan(x_num[:, 1]).all()


@pytest.mark.parametrize("transform", ["quantile", "standard", "none"])
def test_constant_and_all_missing_columns_carry_no_signal_at_predict(transform):
    # Their token weights learnt nothing in fit: another value at predict time
    # moved every prediction (a flag never set in the training period, say).
    X = pd.DataFrame(
        {"const": [3.0] * 5 + [np.nan], "empty": [np.nan] * 6, "v": np.arange(6.0)}
    )
    enc = TabularEncoder(numeric_transform=transform).fit(X)
    fitted = enc.encode(X).x_num
    new = pd.DataFrame(
        {
            "const": [3.0, -1.0, 1e6, np.nan, 0.0],
            "empty": [1.0, -5.0, np.nan, 0.0, 1e6],
            "v": [0.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    x_num = enc.encode(new).x_num
    np.testing.assert_array_equal(x_num[[0, 1, 2, 4], 0], fitted[0, 0])
    assert np.isnan(x_num[3, 0])  # missing stays missing
    assert np.isnan(x_num[:, 1]).all()
    np.testing.assert_array_equal(x_num[:, 2], fitted[:5, 2])
    # An encoder pickled before this rule encodes as it did.
    old = pickle.loads(pickle.dumps(enc))
    del old._constants
    np.testing.assert_array_equal(
        old.encode(new).x_num, old._scaler(new.to_numpy()).astype(np.float32)
    )


def test_estimator_ignores_a_column_constant_in_fit():
    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.normal(size=60), "flag": 0.0})
    y = (X["a"] > 0).astype(int)
    model = AttentionCNNClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(
        model.predict_proba(X.assign(flag=1.0)), model.predict_proba(X)
    )


def test_values_too_large_for_float32_are_refused():
    X = pd.DataFrame({"big": [1e300, 1.0, 2.0]})
    fit = pd.DataFrame({"big": [1.0, 2.0]})
    enc = TabularEncoder(numeric_transform="none").fit(fit)
    with pytest.raises(ValueError, match=re.escape("Column(s) 'big' hold values")):
        enc.encode(X)
    # The quantile transform maps them into range.
    x_num = TabularEncoder().fit(X).encode(X).x_num
    assert np.isfinite(x_num).all()


@pytest.mark.parametrize("load", [load_breast_cancer, load_wine])
def test_no_observed_value_encodes_as_missing(load):
    # At a tied column's smallest or largest quantile, the mean of the two
    # interpolation directions could round just outside [0, 1], where the
    # normal quantile function is NaN: one value of breast_cancer and two of
    # wine read as missing, in fit and at predict time.
    X, _ = load(return_X_y=True)
    x_num = TabularEncoder().fit(X).encode(X).x_num
    assert not np.isnan(x_num).any()
    ends = TabularEncoder().fit(X).encode(np.vstack([X.min(0), X.max(0)])).x_num
    assert (ends[0] < ends[1]).all()


def test_nan_reaches_the_network_as_the_missing_token():
    X = pd.DataFrame({"x": [0.5, np.nan]})
    table = TabularEncoder().fit(X).encode(X)
    tokenizer = FeatureTokenizer(n_numeric=1, cardinalities=[], d_token=4)
    with torch.no_grad():
        tokenizer.num_missing_shift.fill_(0.5)  # as if trained
    tokens = tokenizer(torch.as_tensor(table.x_num), torch.as_tensor(table.x_cat))
    torch.testing.assert_close(tokens[1, 0], tokenizer.missing_tokens()[0])
    assert not torch.equal(tokens[0, 0], tokenizer.missing_tokens()[0])


# -- arrays, sparse, ColumnTransformer ------------------------------------------------
def test_numpy_array_is_all_numeric():
    X = np.random.RandomState(0).normal(size=(30, 4))
    enc = TabularEncoder(numeric_transform="none").fit(X)
    assert enc.numeric_columns_.tolist() == [0, 1, 2, 3]
    assert not hasattr(enc, "feature_names_in_")
    np.testing.assert_allclose(enc.transform(X), X, rtol=1e-6)


@pytest.mark.parametrize("transform", ["quantile", "standard", "none"])
def test_array_and_dataframe_give_the_same_encoding(transform):
    X = np.random.RandomState(0).normal(size=(50, 3))
    X[::7, 1] = np.nan
    from_array = TabularEncoder(numeric_transform=transform).fit(X).transform(X)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    from_frame = TabularEncoder(numeric_transform=transform).fit(frame)
    np.testing.assert_array_equal(from_frame.transform(frame), from_array)


def test_object_array_numbers_are_numeric_and_strings_categorical():
    X = np.array([[1, "a", 2.5], [2, "b", None], [3, None, 4]], dtype=object)
    enc = TabularEncoder(numeric_transform="none", min_frequency=1).fit(X)
    assert enc.numeric_columns_.tolist() == [0, 2]
    assert enc.categorical_columns_.tolist() == [1]
    np.testing.assert_array_equal(enc.encode(X).x_num, [[1, 2.5], [2, np.nan], [3, 4]])


def test_sparse_input_equals_dense():
    X = sp.random(40, 6, density=0.3, format="csr", random_state=0)
    dense = TabularEncoder().fit(X.toarray())
    for fmt in ("csr", "csc", "coo"):
        enc = TabularEncoder().fit(X.asformat(fmt))
        np.testing.assert_array_equal(
            enc.transform(X.asformat(fmt)), dense.transform(X.toarray())
        )


def _column_transformer():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), make_column_selector(dtype_include="number")),
            ("cat", "passthrough", make_column_selector(dtype_exclude="number")),
        ],
        verbose_feature_names_out=False,
    )


def test_after_column_transformer_pandas_output_keeps_kinds():
    X = _frame()
    ct = _column_transformer().set_output(transform="pandas")
    pipe = make_pipeline(ct, TabularEncoder(min_frequency=1)).fit(X)
    enc = pipe[-1]
    assert enc.feature_names_in_.tolist() == ["num", "city", "flag"]
    assert enc.categorical_columns_.tolist() == [1, 2]
    assert pipe.transform(X).shape == (60, 3)


def test_after_column_transformer_default_output_object_array():
    X = _frame()
    pipe = make_pipeline(_column_transformer(), TabularEncoder(min_frequency=1)).fit(X)
    enc = pipe[-1]
    assert enc.numeric_columns_.tolist() == [0]
    assert enc.categorical_columns_.tolist() == [1, 2]
    direct = TabularEncoder(min_frequency=1).fit(X)
    np.testing.assert_array_equal(pipe.transform(X)[:, 1:], direct.transform(X)[:, 1:])


def test_after_one_hot_sparse_output():
    X = _frame()
    ct = ColumnTransformer([("cat", OneHotEncoder(), ["city"])], remainder="drop")
    out = make_pipeline(ct, TabularEncoder()).fit_transform(X)
    assert out.shape == (60, 3) and np.isfinite(out).all()
    # Rows of the same city get the same encoding, other cities another one.
    _, first, inverse = np.unique(out, axis=0, return_index=True, return_inverse=True)
    assert len(first) == 3
    np.testing.assert_array_equal(X["city"].to_numpy()[first][inverse], X["city"])


def test_set_output_pandas_on_the_encoder():
    X = _frame()
    out = TabularEncoder().set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == ["num", "city", "flag"]


# -- feature names ------------------------------------------------------------------
def test_feature_names_in():
    enc = TabularEncoder().fit(_frame())
    assert enc.feature_names_in_.tolist() == ["num", "city", "flag"]
    assert enc.get_feature_names_out().tolist() == ["num", "city", "flag"]


def test_reordered_or_renamed_columns_raise():
    enc = TabularEncoder().fit(_frame())
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        enc.transform(_frame()[["city", "num", "flag"]])
    with pytest.raises(ValueError, match="Feature names unseen at fit time:\n- town"):
        enc.transform(_frame().rename(columns={"city": "town"}))


def test_array_after_dataframe_warns():
    enc = TabularEncoder().fit(_frame())
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        enc.transform(_frame().to_numpy())


def test_refit_without_names_forgets_them():
    enc = TabularEncoder().fit(_frame())
    enc.fit(np.zeros((5, 2)))
    assert not hasattr(enc, "feature_names_in_")
    assert enc.n_features_in_ == 2


# -- a failed fit or transform loses nothing --------------------------------------
def test_failed_refit_keeps_the_fitted_encoder():
    X = _frame()
    enc = TabularEncoder(min_frequency=1).fit(X)
    before = enc.transform(X)
    state = pickle.dumps(enc)
    bad = X.assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(TypeError, match="Column 'when'"):
        enc.fit(bad)
    assert pickle.dumps(enc) == state
    np.testing.assert_array_equal(enc.transform(X), before)


def test_failed_transform_changes_neither_input_nor_encoder():
    X = _frame()
    enc = TabularEncoder(min_frequency=1).fit(X)
    state = pickle.dumps(enc)
    bad = X.assign(num=[np.inf] + [0.0] * 59)
    copy = bad.copy()
    with pytest.raises(ValueError, match="infinity in column"):
        enc.transform(bad)
    pd.testing.assert_frame_equal(bad, copy)
    assert pickle.dumps(enc) == state


def test_encoder_does_not_modify_its_input():
    X = _city_frame("category").assign(n=pd.array([1, pd.NA] * 9, dtype="Int64"))
    copy = X.copy()
    TabularEncoder().fit(X).transform(X)
    pd.testing.assert_frame_equal(X, copy)


def test_pickle_round_trip():
    X = _frame()
    enc = TabularEncoder(min_frequency=1).fit(X)
    again = pickle.loads(pickle.dumps(enc))
    np.testing.assert_array_equal(again.transform(X), enc.transform(X))


# -- inside the estimators ------------------------------------------------------------


@pytest.mark.parametrize("make", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_estimators_take_categorical_features(make):
    X = _frame().assign(zip=[75001, 69001, 13001] * 20)
    y = np.arange(60) % 2
    model = make(**FAST, categorical_features=["city", "zip"]).fit(X, y)
    assert model.encoder_.categorical_columns_.tolist() == [1, 3]
    assert model.encoder_.numeric_columns_.tolist() == [0, 2]  # bool left out
    with pytest.raises(ValueError, match=re.escape("Did you mean 'city'?")):
        make(**FAST, categorical_features=["cty"]).fit(X, y)


@pytest.mark.parametrize("make", [AttentionCNNClassifier, AttentionCNNRegressor])
def test_estimators_take_nullable_dtypes_with_na(make):
    n = 60
    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {
            "i": pd.array(rng.randint(0, 9, n), dtype="Int64"),
            "f": pd.array(rng.normal(size=n), dtype="Float64"),
            "b": pd.array(rng.rand(n) < 0.5, dtype="boolean"),
            "s": pd.array(rng.choice(["x", "y"], n), dtype="string[python]"),
        }
    )
    X.iloc[::5, :] = pd.NA
    y = np.arange(n) % 2
    model = make(**FAST).fit(X, y)
    assert model.encoder_.categorical_columns_.tolist() == [2, 3]
    out = (
        model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)
    )
    assert np.isfinite(out).all() and len(out) == n


@pytest.mark.parametrize("n_points", [1, 2, 1000])
def test_quantile_interpolation_is_np_interp_bit_for_bit(n_points):
    # Rows with ties inside and at the last point, values on and between the
    # points; beyond the range the caller overwrites (sklearn's bounds rule).
    rng = np.random.RandomState(0)
    xp = np.sort(np.round(rng.normal(size=(3, n_points)), 1), axis=1)
    xp[1, -2:] = xp[1, -1]  # a tied last point
    fp = np.linspace(0, 1, n_points)
    lo, hi = xp[:, :1], xp[:, -1:]
    x = np.concatenate([xp, rng.uniform(lo, hi, size=(3, 2000)), hi + 1], axis=1)
    x[0, 5] = np.nan
    ours = _scaling._Interpolation(torch.from_numpy(xp), torch.from_numpy(fp))
    got = ours(torch.from_numpy(x)).numpy()
    expected = np.stack([np.interp(row, p, fp) for row, p in zip(x, xp, strict=True)])
    inside = x < hi  # at or beyond the last point only where it is tied
    inside[1] |= x[1] >= hi[1]
    np.testing.assert_array_equal(got[inside], expected[inside])
    assert np.isnan(got[0, 5])
