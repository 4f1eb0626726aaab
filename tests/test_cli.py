"""The sk-tabattn command line, in-process (fast) and as real processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sk_tabattn import AttentionCNNClassifier, load
from sk_tabattn._cli_io import write_table
from sk_tabattn._cli_params import parse_params, parse_value
from sk_tabattn.cli import CliError, infer_task, main

DATASETS = resources.files("sk_tabattn.datasets")
HOUSING = str(DATASETS.joinpath("housing.csv.gz"))  # header, NaN, a text column
ADULT = str(DATASETS.joinpath("adult-train.csv.gz"))  # no header, "?" = missing
SHARED_HOUSING = Path(__file__).parents[2] / "shared" / "datasets" / "housing.csv.gz"
QUICK = ["--rows", "300", "--param", "max_epochs=2", "--param", "d_token=8"]


def run_cli(*args):
    """Run the command line in a fresh process, as a shell would."""
    script = Path(sys.executable).with_name("sk-tabattn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sk_tabattn"]
    return subprocess.run(
        [*command, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # one thread, as in the suite
        timeout=300,
    )


# -- fit then predict, from a shell ----------------------------------------------------
def test_fit_then_predict_in_fresh_processes(tmp_path):
    # The README's promise: a CSV from ../shared/datasets, from a shell. The
    # bundled copy is the same file, for checkouts without ../shared.
    data = SHARED_HOUSING if SHARED_HOUSING.exists() else HOUSING
    model, pred = tmp_path / "model.joblib", tmp_path / "pred.csv"
    fit = run_cli("fit", data, "--target", "median_house_value", *QUICK, "--out", model)
    assert fit.returncode == 0, fit.stderr
    assert "Task: regression" in fit.stderr
    assert "saved to" in fit.stdout
    predict = run_cli("predict", model, data, "--out", pred)
    assert predict.returncode == 0, predict.stderr
    # The target column is in DATA too: it is ignored, with a notice.
    assert "Ignoring columns not seen in fit: 'median_house_value'" in predict.stderr
    written = pd.read_csv(pred)
    frame = pd.read_csv(data)
    assert list(written.columns) == ["prediction"]
    assert len(written) == len(frame)
    expected = load(model).predict(frame.drop(columns="median_house_value"))
    np.testing.assert_allclose(written["prediction"], expected, rtol=1e-6)


def test_python_dash_m_runs_the_same_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "sk_tabattn", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    for command in ("fit", "predict", "evaluate", "demo"):
        assert command in result.stdout


def test_errors_exit_non_zero_with_one_clear_line(tmp_path):
    result = run_cli("fit", tmp_path / "nope.csv", "--target", "y", "--out", "m")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"sk-tabattn: error: No such file: '{tmp_path / 'nope.csv'}'."
    )
    assert "Traceback" not in result.stderr
    usage = run_cli("fit", HOUSING)  # no --target, no --out: argparse's usage error
    assert usage.returncode == 2
    assert "required: --target, --out" in usage.stderr


# -- error messages --------------------------------------------------------------------
def fail(capsys, *args) -> str:
    assert main(list(map(str, args))) == 1
    return capsys.readouterr().err


def write_csv(path: Path, frame: pd.DataFrame, **kwargs) -> Path:
    frame.to_csv(path, index=False, **kwargs)
    return path


def coded_table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    """A table whose target depends on ``code``, a text column of digits and 'A'."""
    rng = np.random.RandomState(seed)
    code = rng.choice(["1", "2", "A"], n)
    x = rng.normal(size=n)
    y = np.select([code == "1", code == "2"], [10.0, -10.0], 0.0) + x
    return pd.DataFrame({"code": code, "x": x, "y": y})


def test_model_file_that_is_not_a_model_is_a_clear_error(capsys, tmp_path):
    data = write_csv(tmp_path / "data.csv", coded_table(20))
    err = fail(capsys, "predict", data, data)
    assert err.startswith(f"sk-tabattn: error: Could not load a model from '{data}' (")
    assert err.endswith("give a file written by 'sk-tabattn fit'.\n")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    [
        ["fit", HOUSING, "--target", "median_house_value", *QUICK],
        ["predict", "MODEL", HOUSING],
        ["evaluate", HOUSING, "--target", "median_house_value", *QUICK],
    ],
    ids=["fit", "predict", "evaluate"],
)
def test_out_path_is_checked_before_any_work(capsys, tmp_path, command):
    model = tmp_path / "model.joblib"
    model.write_bytes(b"not read: the --out check comes first")
    command = [str(model) if c == "MODEL" else c for c in command]
    err = fail(capsys, *command, "--out", tmp_path)
    assert f"error: --out '{tmp_path}' is a folder; give a file name" in err
    a_file = tmp_path / "afile"
    a_file.write_text("")
    err = fail(capsys, *command, "--out", a_file / "out.csv")
    assert err == (
        f"sk-tabattn: error: --out '{a_file / 'out.csv'}' cannot be written: "
        f"'{a_file}' is a file, not a folder.\n"
    )
    assert "Fitting" not in err and "cross-validation" not in err


def test_write_and_save_errors_are_clear(capsys, tmp_path, monkeypatch):
    import sk_tabattn.persistence

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    data = write_csv(tmp_path / "data.csv", coded_table(60))
    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_csv", disk_full)
        with pytest.raises(CliError, match=r"Could not write '.*p\.csv': No space"):
            write_table(pd.DataFrame({"a": [1]}), str(tmp_path / "p.csv"))
    monkeypatch.setattr(sk_tabattn.persistence, "save", disk_full)
    err = fail(capsys, "fit", data, "--target", "y", "--param", "max_epochs=1",
               "--param", "d_token=8", "--out", tmp_path / "m.joblib")  # fmt: skip
    assert "error: Could not save the model to" in err
    assert err.endswith(": No space left on device.\n")


@pytest.mark.parametrize("no_header", [False, True], ids=["header", "no-header"])
def test_predict_reads_text_categories_as_text(tmp_path, no_header):
    # In fit, `code` holds '1', '2' and 'A'; a file with only 1 and 2 would be
    # read as numbers, which match no category: predictions silently wrong.
    train = coded_table()
    new = coded_table(40, seed=1)
    new = new[new["code"] != "A"].reset_index(drop=True)
    new.loc[[0, 1], "code"] = [np.nan, "?"]  # missing values stay missing
    target, code = ("2", "0") if no_header else ("y", "code")
    header = ["--no-header"] if no_header else []
    train_csv = write_csv(tmp_path / "train.csv", train, header=not no_header)
    new_csv = write_csv(tmp_path / "new.csv", new, header=not no_header)
    model, pred = tmp_path / "m.joblib", tmp_path / "pred.csv"
    assert main(["fit", str(train_csv), "--target", target, *header, *QUICK,
                 "--out", str(model)]) == 0  # fmt: skip
    assert main(["predict", str(model), str(new_csv), "--na-values", "?", *header,
                 "--out", str(pred)]) == 0  # fmt: skip
    as_text = pd.read_csv(
        new_csv,
        dtype={int(code) if no_header else code: str},
        na_values=["?"],
        header=None if no_header else "infer",
    )
    as_text.columns = [str(c) for c in as_text.columns]
    assert as_text[code].isna().sum() == 2
    expected = load(model).predict(as_text.drop(columns=target))
    np.testing.assert_allclose(pd.read_csv(pred)["prediction"], expected, rtol=1e-6)


def test_regression_target_errors_name_the_files_row(capsys, tmp_path):
    data = tmp_path / "rowno.csv"
    data.write_text("x,y\n1,\n2,\n3,\n4,abc\n5,1.5\n6,2.5\n7,inf\n")
    err = fail(capsys, "fit", data, "--target", "y", "--task", "regression",
               "--out", tmp_path / "m")  # fmt: skip
    assert err.splitlines()[-1] == (
        f"sk-tabattn: error: Target column 'y' holds 'abc' in data row 4 of "
        f"'{data}' (the header not counted; 1 more rows hold non-numbers or "
        "infinities); a regression target must be finite numbers."
    )
    data.write_text("1,\n2,3.5\n3,-inf\n")
    err = fail(capsys, "evaluate", data, "--no-header", "--target", "1",
               "--task", "regression")  # fmt: skip
    assert err.splitlines()[-1] == (
        f"sk-tabattn: error: Target column '1' holds -inf in data row 3 of "
        f"'{data}'; a regression target must be finite numbers."
    )


def test_regression_target_rows_survive_the_subsample(capsys, tmp_path):
    # Each target names its own row, so the message is right whichever row
    # the subsample finds first.
    data = tmp_path / "t.csv"
    rows = [f"{k},{'' if k < 3 else f'v{k}'}" for k in range(1, 13)]
    data.write_text("x,y\n" + "\n".join(rows) + "\n")
    err = fail(capsys, "fit", data, "--target", "y", "--task", "regression",
               "--rows", "3", "--out", tmp_path / "m")  # fmt: skip
    found = re.search(r"holds 'v(\d+)' in data row (\d+) of", err)
    assert found, err
    assert found[1] == found[2]


@pytest.mark.parametrize(
    ("counts", "cv", "expected"),
    [
        (
            {"a": 30, "b": 30, "c": 30, "rare": 1},
            2,
            "Class 'rare' (1 row) of target column 'y' has fewer rows than the 2 "
            "folds of --cv 2, so some folds would not see it; drop its rows.",
        ),
        (
            {"a": 30, "b": 2, "c": 2},
            3,
            "Classes 'b' (2 rows), 'c' (2 rows) of target column 'y' have fewer "
            "rows than the 3 folds of --cv 3, so some folds would not see them; "
            "use --cv 2, or drop their rows.",
        ),
    ],
)
def test_evaluate_refuses_classes_with_fewer_rows_than_folds(
    capsys, tmp_path, counts, cv, expected
):
    y = [label for label, n in counts.items() for _ in range(n)]
    frame = pd.DataFrame({"x": np.arange(len(y), dtype=float), "y": y})
    data = write_csv(tmp_path / "t.csv", frame)
    err = fail(capsys, "evaluate", data, "--target", "y", "--cv", cv)
    assert err.splitlines()[-1] == f"sk-tabattn: error: {expected}"


@pytest.mark.parametrize(
    ("param", "message"),
    [
        # Checked before cross_validate, which would name itself in sklearn's
        # message instead of the estimator.
        (
            "attention=multi",
            "The 'attention' parameter of AttentionCNNClassifier must be a str",
        ),
        # Fails in every fold's fit: with cross_validate's default
        # error_score=nan, a warning and NaN scores, or a multi-line
        # "All the 2 fits failed".
        ("device=nonsense", "device='nonsense' is not a torch device"),
    ],
)
def test_evaluate_fit_errors_are_one_line(capsys, param, message):
    err = fail(capsys, "evaluate", ADULT, "--no-header", "--target", "14",
               "--cv", "2", *QUICK, "--param", param)  # fmt: skip
    last = err.splitlines()[-1]
    assert last.startswith(f"sk-tabattn: error: {message}")
    assert "Traceback" not in err and "fits failed" not in err


def test_bad_device_is_one_line(capsys, tmp_path):
    data = write_csv(tmp_path / "t.csv", coded_table(60))
    err = fail(capsys, "fit", data, "--target", "y", "--param", "max_epochs=1",
               "--param", "device=nonsense", "--out", tmp_path / "m")  # fmt: skip
    last = err.splitlines()[-1]
    assert last.startswith("sk-tabattn: error: ")
    assert "device" in last
    assert "Traceback" not in err


def test_missing_target_column_suggests_the_right_one(capsys, tmp_path):
    err = fail(
        capsys, "fit", HOUSING, "--target", "median_house", "--out", tmp_path / "m"
    )
    assert "Target column 'median_house' is not in" in err
    assert "Did you mean 'median_house_value'?" in err


def test_unknown_parameter_suggests_the_right_one(capsys, tmp_path):
    out = tmp_path / "m"
    err = fail(capsys, "fit", HOUSING, "--target", "median_house_value", *QUICK,
               "--param", "n_head=2", "--out", out)  # fmt: skip
    assert "Unknown parameter 'n_head' for AttentionCNNRegressor. Did you mean " in err
    assert "'n_heads'?" in err
    err = fail(capsys, "fit", HOUSING, "--target", "median_house_value",
               "--param", "n_heads", "--out", out)  # fmt: skip
    assert (
        "--param expects KEY=VALUE (for example attention=mha). Got 'n_heads'." in err
    )


def test_invalid_parameter_value_gives_sklearns_message(capsys, tmp_path):
    err = fail(capsys, "fit", HOUSING, "--target", "median_house_value", *QUICK,
               "--param", "attention=multi", "--out", tmp_path / "m")  # fmt: skip
    assert "The 'attention' parameter of AttentionCNNRegressor must be a str" in err
    assert "Got 'multi' instead." in err
    assert not (tmp_path / "m").exists()


def test_missing_model_and_missing_columns(capsys, tmp_path):
    err = fail(capsys, "predict", tmp_path / "none.joblib", HOUSING)
    assert f"No such model file: '{tmp_path / 'none.joblib'}'." in err
    model = tmp_path / "m.joblib"
    assert main(["fit", HOUSING, "--target", "median_house_value", *QUICK,
                 "--out", str(model)]) == 0  # fmt: skip
    small = tmp_path / "small.csv"
    pd.read_csv(HOUSING, nrows=5).drop(columns=["latitude"]).to_csv(small, index=False)
    err = fail(capsys, "predict", model, small)
    assert "lacks 1 columns the model was fitted on: 'latitude'." in err
    err = fail(capsys, "predict", model, HOUSING, "--proba")
    assert "--proba needs a classifier; this model is a regressor." in err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(CliError, match="No such file"):
        main(["--debug", "fit", str(tmp_path / "x.csv"), "--target", "y", "--out", "m"])


# -- reading data ----------------------------------------------------------------------
def test_headerless_csv_with_missing_marker_and_probabilities(capsys, tmp_path):
    model, pred = tmp_path / "adult.joblib", tmp_path / "pred.csv"
    code = main(["fit", ADULT, "--no-header", "--na-values", "?", "--target", "14",
                 *QUICK, "--out", str(model)])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "Task: classification" in captured.err
    clf = load(model)
    assert isinstance(clf, AttentionCNNClassifier)
    assert list(clf.classes_) == ["<=50K", ">50K"]
    assert clf.feature_names_in_[1] == "1"  # columns are named by position
    code = main(["predict", str(model), ADULT, "--no-header", "--na-values", "?",
                 "--proba", "--out", str(pred)])  # fmt: skip
    assert code == 0
    written = pd.read_csv(pred)
    assert list(written.columns) == ["prediction", "proba_<=50K", "proba_>50K"]
    np.testing.assert_allclose(written.iloc[:, 1:].sum(axis=1), 1, rtol=1e-6)
    assert set(written["prediction"]) <= {"<=50K", ">50K"}


def test_parquet_input_and_output(tmp_path):
    pytest.importorskip("pyarrow")
    data = tmp_path / "housing.parquet"
    pd.read_csv(HOUSING, nrows=400).to_parquet(data)
    model, pred = tmp_path / "m.joblib", tmp_path / "pred.parquet"
    assert main(["fit", str(data), "--target", "median_house_value", *QUICK,
                 "--out", str(model)]) == 0  # fmt: skip
    assert main(["predict", str(model), str(data), "--out", str(pred)]) == 0
    assert len(pd.read_parquet(pred)) == 400


@pytest.fixture
def no_parquet_engine(monkeypatch):
    """Make pyarrow and fastparquet look not installed."""
    for name in ("pyarrow", "pyarrow.parquet", "fastparquet"):
        monkeypatch.setitem(sys.modules, name, None)


def test_parquet_without_pyarrow_says_what_to_install(
    capsys, tmp_path, no_parquet_engine
):
    data = tmp_path / "t.parquet"
    data.write_bytes(b"PAR1")
    err = fail(capsys, "fit", data, "--target", "y", "--out", tmp_path / "m")
    assert "Reading parquet files needs pyarrow (or fastparquet)" in err
    assert "pip install pyarrow" in err


def test_predict_writes_to_stdout_by_default(capsys, tmp_path):
    model = tmp_path / "m.joblib"
    assert main(["fit", HOUSING, "--target", "median_house_value", *QUICK,
                 "--out", str(model)]) == 0  # fmt: skip
    small = tmp_path / "small.csv"
    pd.read_csv(HOUSING, nrows=3).to_csv(small, index=False)
    capsys.readouterr()
    assert main(["predict", str(model), str(small)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "prediction"
    assert len(lines) == 4


def test_closed_pipe_exits_quietly(tmp_path):
    # `sk-tabattn predict ... | head -1`: the reader goes away mid-output.
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"x": rng.normal(size=20_000)})
    frame["y"] = 3 * frame["x"] + rng.normal(size=len(frame))
    data = write_csv(tmp_path / "big.csv", frame)
    model = tmp_path / "m.joblib"
    assert main(["fit", str(data), "--target", "y", *QUICK,
                 "--out", str(model)]) == 0  # fmt: skip
    script = Path(sys.executable).with_name("sk-tabattn")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "sk_tabattn"]
    # Far more output (~400 kB) than a pipe buffers (64 kB), so the write fails.
    with subprocess.Popen(
        [*command, "predict", str(model), str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ) as process:
        assert process.stdout.readline() == "prediction\n"
        process.stdout.close()
        err = process.stderr.read()
        assert process.wait(timeout=300) == 1
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_rows_without_target_are_dropped_with_a_notice(capsys, tmp_path):
    frame = pd.read_csv(HOUSING, nrows=200)
    frame.loc[:9, "median_house_value"] = np.nan
    data = tmp_path / "t.csv"
    frame.to_csv(data, index=False)
    code = main(["fit", str(data), "--target", "median_house_value",
                 "--param", "max_epochs=1", "--out", str(tmp_path / "m")])  # fmt: skip
    assert code == 0
    assert "Dropped 10 rows whose target 'median_house_value' is missing." in (
        capsys.readouterr().err
    )


# -- evaluate and demo -----------------------------------------------------------------
def test_evaluate_prints_scores_beside_hist_gradient_boosting(capsys, tmp_path):
    out = tmp_path / "scores.csv"
    code = main(["evaluate", ADULT, "--no-header", "--na-values", "?",
                 "--target", "14", "--cv", "2", *QUICK, "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "AttentionCNNClassifier" in printed
    assert "HistGradientBoosting" in printed
    scores = pd.read_csv(out, index_col="model")
    assert list(scores.columns[:4]) == [
        "accuracy",
        "accuracy_std",
        "roc_auc",
        "roc_auc_std",
    ]
    assert (scores["roc_auc"] > 0.5).all()  # both learn something from 300 rows


def test_evaluate_regression_reports_rmse(capsys):
    code = main(["evaluate", HOUSING, "--target", "median_house_value", "--cv", "2",
                 *QUICK])  # fmt: skip
    assert code == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.split() == ["r2", "rmse", "fit", "seconds"]


def test_evaluate_needs_two_folds(capsys):
    err = fail(capsys, "evaluate", HOUSING, "--target", "median_house_value",
               "--cv", "1")  # fmt: skip
    assert "--cv must be at least 2. Got 1." in err


def test_demo_runs_with_small_settings(capsys, tmp_path):
    out = tmp_path / "demo" / "model.joblib"
    code = main(["demo", "--rows", "300", "--cv", "2", "--max-epochs", "1",
                 "--attentions", "none,mha", "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "attention='mha'" in printed
    assert "HistGradientBoosting" in printed
    assert out.exists()
    err = fail(capsys, "demo", "--attentions", "none,multi")
    assert "Unknown attention 'multi'. Did you mean 'multihead'?" in err


# -- parsing helpers -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("4", 4),
        ("0.5", 0.5),
        ("1e-3", 1e-3),
        ("True", True),
        ("false", False),
        ("None", None),
        ("null", None),
        ("none", "none"),  # attention="none" is a string option
        ("mha", "mha"),
        ("['a', 'b']", ["a", "b"]),
        ("[['x0'], ['x1']]", [["x0"], ["x1"]]),
    ],
)
def test_parse_value(text, value):
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_parse_params_checks_keys_against_the_estimator():
    clf = AttentionCNNClassifier()
    assert parse_params(
        ["attention=mha", "n_heads=2", "early_stopping=false"], clf
    ) == {
        "attention": "mha",
        "n_heads": 2,
        "early_stopping": False,
    }
    with pytest.raises(CliError, match="Did you mean 'class_weight'"):
        parse_params(["class_weigth=balanced"], clf)


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "c"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 1, 0], "classification"),
        ([1.5, 2.0, 3.25], "regression"),
        ([1, 2, 3, 4, 5], "regression"),
    ],
)
def test_infer_task(values, task):
    assert infer_task(pd.Series(values))[0] == task


@pytest.mark.parametrize(
    ("flag", "table", "bar"),
    [([], False, False), (["-v"], True, False), (["-vv"], True, True)],
)
def test_verbose_flags_map_to_the_estimators_verbose(
    capsys, tmp_path, flag, table, bar
):
    code = main(["fit", HOUSING, "--target", "median_house_value", *QUICK, *flag,
                 "--out", str(tmp_path / "m")])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert ("train_loss" in captured.out) is table  # skorch's table of epochs
    assert ("it/s" in captured.err or "s/it" in captured.err) is bar  # tqdm's bar
    assert load(tmp_path / "m").verbose == (flag[0].count("v") if flag else 0)
