"""The command line: ``sk-tabattn fit | predict | evaluate | demo``.

Reads CSV (optionally compressed: ``.csv.gz``, ``.zip``, ...) and parquet
files (parquet needs pyarrow or fastparquet), fits an
:class:`~sk_tabattn.AttentionCNNClassifier` or
:class:`~sk_tabattn.AttentionCNNRegressor`, saves it with
:func:`sk_tabattn.save`, and predicts or cross-validates with it. Also run as
``python -m sk_tabattn``.

Errors the user can fix (a missing file, a missing column, an unknown
parameter, a bad value) are printed as one ``sk-tabattn: error: ...`` line on
stderr with exit code 1 (``--debug`` shows the traceback instead); argparse's
usage errors exit with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ._cli_io import CliError, check_out_path, is_parquet, read_table, write_table
from ._cli_params import parse_params
from ._columns import categories_kind
from ._validation import check_parameters, did_you_mean, format_columns

_TASKS = ("classification", "regression")
#: scikit-learn scorer -> (name shown, sign that turns it back into the metric)
_METRICS = {
    "accuracy": ("accuracy", 1),
    "roc_auc": ("roc_auc", 1),
    "neg_log_loss": ("log_loss", -1),
    "r2": ("r2", 1),
    "neg_root_mean_squared_error": ("rmse", -1),
}


def _say(message: str) -> None:
    """Print a notice on stderr (stdout is kept for results and data)."""
    print(message, file=sys.stderr)


# -- targets and tasks ----------------------------------------------------------------
def infer_task(y: pd.Series) -> tuple[str, str]:
    """Guess the task from the target column; return it and the reason.

    Strings, booleans, categories or exactly two distinct values mean
    classification; other numbers mean regression.
    """
    n_distinct = y.nunique(dropna=True)
    if is_bool_dtype(y) or not is_numeric_dtype(y):
        return "classification", f"it holds {n_distinct} distinct labels"
    if n_distinct == 2:
        return "classification", "it holds 2 distinct values"
    return "regression", f"it is numeric with {n_distinct} distinct values"


def split_target(
    frame: pd.DataFrame, target: str, path: str
) -> tuple[pd.DataFrame, pd.Series]:
    """Return ``X`` (every other column) and ``y``, dropping rows without a target.

    The index labels of ``frame`` are kept, so that errors can name the
    file's own rows.
    """
    if target not in frame.columns:
        columns = [str(c) for c in frame.columns]
        raise CliError(
            f"Target column {target!r} is not in '{path}'."
            + did_you_mean(target, columns)
            + f" Its columns are: {format_columns(columns, limit=20)}."
        )
    y = frame[target]
    missing = y.isna().to_numpy()
    if missing.all():
        raise CliError(f"Target column {target!r} has no values.")
    if missing.any():
        _say(f"Dropped {int(missing.sum())} rows whose target {target!r} is missing.")
        frame = frame.loc[~missing]
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise CliError(f"'{path}' has no feature column besides {target!r}.")
    return X, frame[target]


def _subsample(X, y, n_rows, random_state):
    """Draw ``n_rows`` random rows, in file order, keeping their index labels."""
    if n_rows is None or n_rows >= len(X):
        return X, y
    rows = np.sort(np.random.RandomState(random_state).permutation(len(X))[:n_rows])
    return X.iloc[rows], y.iloc[rows]


def check_regression_target(
    y: pd.Series, target: str, path: str, *, header: bool
) -> None:
    """Raise a CliError naming the first row whose target is not a finite number.

    Parameters
    ----------
    y : Series
        The target, indexed by 0-based data row of the file.
    target : str
        The column's name.
    path : str
        The file, for the message.
    header : bool
        Whether the file has a header row (not counted in the row numbers).
    """
    values = pd.to_numeric(y, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if not len(bad):
        return
    notes = ["the header not counted"] if header else []
    if len(bad) > 1:
        notes.append(f"{len(bad) - 1} more rows hold non-numbers or infinities")
    note = f" ({'; '.join(notes)})" if notes else ""
    raise CliError(
        f"Target column {target!r} holds {_show(y.iloc[bad[0]])} in data row "
        f"{y.index[bad[0]] + 1} of '{path}'{note}; a regression target must be "
        "finite numbers."
    )


def _load_xy(args) -> tuple[pd.DataFrame, pd.Series, str]:
    frame = read_table(
        args.data, sep=args.sep, no_header=args.no_header, na_values=args.na_values
    )
    # Index labels are 0-based data rows until the target has been checked.
    frame = frame.reset_index(drop=True)
    X, y = split_target(frame, args.target, args.data)
    X, y = _subsample(X, y, args.rows, args.random_state)
    task = args.task
    if task is None:
        task, reason = infer_task(y)
        other = _TASKS[1 - _TASKS.index(task)]
        _say(
            f"Task: {task} (target {args.target!r}: {reason}); "
            f"pass --task {other} to override."
        )
    if task == "regression":
        header = not (args.no_header or is_parquet(args.data))
        check_regression_target(y, args.target, args.data, header=header)
    return X.reset_index(drop=True), y.reset_index(drop=True), task


def _make_model(task: str, args):
    from .classifier import AttentionCNNClassifier
    from .regressor import AttentionCNNRegressor

    model = (
        AttentionCNNClassifier()
        if task == "classification"
        else AttentionCNNRegressor()
    )
    params = {"random_state": args.random_state, "verbose": args.verbose}
    params.update(parse_params(args.param, model))
    model.set_params(**params)
    # Now, not in fit: inside cross_validate, sklearn would name itself, not
    # the estimator, in the message ("The 'attention' parameter of
    # cross_validate ...").
    check_parameters(model)
    return model


# -- commands --------------------------------------------------------------------------
def cmd_fit(args) -> int:
    """Fit a model on DATA and save it to --out."""
    from .persistence import save

    check_out_path(args.out, example="model.joblib")  # before the fit
    X, y, task = _load_xy(args)
    model = _make_model(task, args)
    _say(f"Fitting {model!r} on {X.shape[0]} rows x {X.shape[1]} columns...")
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    try:
        save(model, args.out)
    except OSError as exc:
        raise CliError(
            f"Could not save the model to '{args.out}': {exc.strerror or exc}."
        ) from exc
    history = model.history_
    line = f"Fitted in {seconds:.1f} s, {len(history)} epochs"
    if "valid_loss" in history[0]:
        line += f", lowest validation loss {min(history[:, 'valid_loss']):.4g}"
    print(line + f"; saved to {args.out}")
    top = pd.Series(model.feature_importances_, index=_names(model))
    top = top.sort_values(ascending=False).head(5)
    print(
        "Most important features: "
        + ", ".join(f"{name} ({value:.2f})" for name, value in top.items())
    )
    return 0


def _load_model(path: str):
    """Load a model written by ``fit``, with a clear error for any other file."""
    from .persistence import load

    if not Path(path).is_file():
        raise CliError(f"No such model file: '{path}'.")
    try:
        model = load(path)
    except Exception as exc:  # unpickling fails in many ways on a foreign file
        raise CliError(
            f"Could not load a model from '{path}' ({type(exc).__name__}: {exc}); "
            "give a file written by 'sk-tabattn fit'."
        ) from exc
    if not hasattr(model, "predict"):
        raise CliError(f"'{path}' does not hold a fitted model.")
    return model


def _text_columns(model) -> list[str]:
    """Columns to read as text: those whose categories were strings in fit.

    Each file's column types are guessed from its own values, so a column
    that held '1', '2' and 'A' in fit would be read as the numbers 1 and 2
    from a file without letters, and no category would match.
    """
    encoder = getattr(model, "encoder_", None)
    if encoder is None or getattr(encoder, "feature_names_in_", None) is None:
        return []  # a pipeline or another estimator: its own business
    names = encoder.feature_names_in_
    return [
        str(names[j])
        for j, categories in zip(
            encoder.categorical_columns_, encoder.categories_, strict=True
        )
        if categories_kind(categories) == "string"  # as the encoder decides
    ]


def _names(model) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return [f"x{i}" for i in range(model.n_features_in_)]
    return [str(n) for n in names]


def cmd_predict(args) -> int:
    """Predict the rows of DATA with a saved model; write them to --out."""
    check_out_path(args.out, example="pred.csv")
    model = _load_model(args.model)
    frame = read_table(
        args.data,
        sep=args.sep,
        no_header=args.no_header,
        na_values=args.na_values,
        text_columns=_text_columns(model),
    )
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        names = list(names)
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise CliError(
                f"'{args.data}' lacks {len(missing)} columns the model was fitted "
                f"on: {format_columns(missing)}."
            )
        extra = [c for c in frame.columns if c not in set(names)]
        if extra:
            _say(f"Ignoring columns not seen in fit: {format_columns(extra)}.")
        frame = frame[names]
    out = pd.DataFrame({"prediction": model.predict(frame)})
    if args.proba:
        if not hasattr(model, "predict_proba"):
            raise CliError("--proba needs a classifier; this model is a regressor.")
        proba = model.predict_proba(frame)
        for k, label in enumerate(model.classes_):
            out[f"proba_{label}"] = proba[:, k]
    write_table(out, args.out)
    if args.out != "-":
        _say(f"Wrote {len(out)} predictions to {args.out}")
    return 0


def _reference_model(task: str, X: pd.DataFrame, random_state):
    """HistGradientBoosting with the non-numeric columns ordinal-encoded."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = [
        c for c in X.columns if is_bool_dtype(X[c]) or not is_numeric_dtype(X[c])
    ]
    encode = ColumnTransformer(
        [
            (
                "categories",
                # HistGradientBoosting takes at most 255 categories per column.
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=255,
                ),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    hgb_class = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )
    hgb = hgb_class(
        categorical_features=[str(c) for c in categorical] or None,
        random_state=random_state,
    )
    return make_pipeline(encode, hgb)


def check_class_counts(y: pd.Series, target: str, cv: int) -> None:
    """Raise a CliError when a class has fewer rows than there are folds.

    Such a class is missing from some test folds, where log loss and ROC AUC
    are undefined (NaN scores).
    """
    counts = y.value_counts()
    rare = counts[counts < cv]
    if rare.empty:
        return
    listed = ", ".join(
        f"{_show(label)} ({n} row{'s' if n > 1 else ''})" for label, n in rare.items()
    )
    one = len(rare) == 1
    fewest = int(rare.min())
    fix = f"use --cv {fewest}, or " if fewest >= 2 else ""
    raise CliError(
        f"{'Class' if one else 'Classes'} {listed} of target column {target!r} "
        f"{'has' if one else 'have'} fewer rows than the {cv} folds of --cv {cv}, "
        f"so some folds would not see {'it' if one else 'them'}; {fix}drop "
        f"{'its' if one else 'their'} rows."
    )


def _show(value) -> str:
    """Show a cell value in a message: strings quoted, numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def cmd_evaluate(args) -> int:
    """Cross-validate the model beside HistGradientBoosting on DATA."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

    if args.cv < 2:
        raise CliError(f"--cv must be at least 2. Got {args.cv}.")
    if args.out:
        check_out_path(args.out, example="scores.csv")
    X, y, task = _load_xy(args)
    X.columns = [str(c) for c in X.columns]
    model = _make_model(task, args)
    if task == "classification":
        check_class_counts(y, args.target, args.cv)
        folds = StratifiedKFold(args.cv, shuffle=True, random_state=args.random_state)
        scoring = ["accuracy"] + (["roc_auc"] if y.nunique() == 2 else ["neg_log_loss"])
    else:
        folds = KFold(args.cv, shuffle=True, random_state=args.random_state)
        scoring = ["r2", "neg_root_mean_squared_error"]
    models = {
        type(model).__name__: model,
        "HistGradientBoosting": _reference_model(task, X, args.random_state),
    }
    _say(
        f"{args.cv}-fold cross-validation on {X.shape[0]} rows x {X.shape[1]} "
        f"columns ({task})..."
    )
    rows = []
    for name, estimator in models.items():
        res = cross_validate(
            estimator,
            X,
            y,
            cv=folds,
            scoring=scoring,
            n_jobs=args.n_jobs,
            error_score="raise",  # a failed fold is an error, never a NaN score
        )
        row = {"model": name}
        for metric in scoring:
            label, sign = _METRICS[metric]
            row[label] = sign * res[f"test_{metric}"].mean()
            row[f"{label}_std"] = res[f"test_{metric}"].std()
        row["fit_seconds"] = res["fit_time"].mean()
        rows.append(row)
    scores = pd.DataFrame(rows).set_index("model")
    shown = pd.DataFrame(index=scores.index)
    for metric in scoring:
        label = _METRICS[metric][0]
        shown[label] = [
            f"{m:.4f} ± {sd:.4f}"
            for m, sd in zip(scores[label], scores[f"{label}_std"], strict=True)
        ]
    shown["fit seconds"] = scores["fit_seconds"].map("{:.2f}".format)
    print(shown.to_string())
    if args.out:
        write_table(scores.reset_index(), args.out)
    return 0


def cmd_demo(args) -> int:
    """Run the README's demo (attention types side by side on UCI Adult)."""
    from .demo import run_demo
    from .nn import ATTENTION_BLOCKS

    attentions = tuple(a.strip() for a in args.attentions.split(",") if a.strip())
    unknown = [a for a in attentions if a not in ATTENTION_BLOCKS]
    if unknown or not attentions:
        raise CliError(
            f"Unknown attention {unknown[0] if unknown else args.attentions!r}."
            + (did_you_mean(unknown[0], ATTENTION_BLOCKS) if unknown else "")
            + f" Choose from: {', '.join(sorted(ATTENTION_BLOCKS))}."
        )
    check_out_path(args.out, example="model.joblib")
    run_demo(
        out=args.out,
        n_rows=args.rows,
        cv=args.cv,
        max_epochs=args.max_epochs,
        attentions=attentions,
        random_state=args.random_state,
    )
    return 0


# -- the parser ---------------------------------------------------------------------
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_read_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("reading the data")
    group.add_argument(
        "--sep", help="CSV separator (default: ',' or a tab for .tsv files)"
    )
    group.add_argument(
        "--no-header",
        action="store_true",
        help="the CSV has no header row; columns are named 0, 1, 2, ...",
    )
    group.add_argument(
        "--na-values",
        action="append",
        metavar="TEXT",
        help="a string that means a missing value, e.g. '?' (repeat for more)",
    )


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="a CSV or parquet file")
    parser.add_argument(
        "--target", required=True, metavar="COL", help="the column to predict"
    )
    parser.add_argument(
        "--task",
        choices=_TASKS,
        help="default: classification for strings, booleans or 2 distinct "
        "values, regression otherwise",
    )
    parser.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="an estimator parameter, e.g. --param attention=mha --param n_heads=2 "
        "(repeat for more)",
    )
    parser.add_argument(
        "--rows",
        type=_positive_int,
        metavar="N",
        help="use a random subsample of N rows (for quick trials)",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="seed of the subsample, the folds and the network (default: 0)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: a table of epochs; -vv: also a progress bar of batches",
    )
    _add_read_options(parser)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``sk-tabattn`` argument parser."""
    from . import __version__
    from .demo import DEMO_ATTENTIONS

    parser = argparse.ArgumentParser(
        prog="sk-tabattn",
        description="Attention + 1D-CNN models for tables, from the shell.",
        epilog="Run 'sk-tabattn COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks of errors"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser(
        "fit", help="fit a model on a table and save it", description=cmd_fit.__doc__
    )
    _add_model_options(fit)
    fit.add_argument(
        "--out", required=True, metavar="MODEL", help="model file to write"
    )
    fit.set_defaults(run=cmd_fit)

    predict = commands.add_parser(
        "predict", help="predict with a saved model", description=cmd_predict.__doc__
    )
    predict.add_argument("model", metavar="MODEL", help="a file written by 'fit'")
    predict.add_argument("data", metavar="DATA", help="a CSV or parquet file")
    predict.add_argument(
        "--out",
        default="-",
        metavar="PRED",
        help="CSV (or .parquet) file to write; default: standard output",
    )
    predict.add_argument(
        "--proba",
        action="store_true",
        help="also write class probabilities (classifiers)",
    )
    _add_read_options(predict)
    predict.set_defaults(run=cmd_predict)

    evaluate = commands.add_parser(
        "evaluate",
        help="cross-validate beside HistGradientBoosting",
        description=cmd_evaluate.__doc__,
    )
    _add_model_options(evaluate)
    evaluate.add_argument(
        "--cv", type=int, default=5, metavar="K", help="number of folds (default: 5)"
    )
    evaluate.add_argument(
        "--n-jobs", type=int, default=1, metavar="N", help="folds fitted in parallel"
    )
    evaluate.add_argument(
        "--out", metavar="SCORES", help="also write the scores to this CSV file"
    )
    evaluate.set_defaults(run=cmd_evaluate)

    demo = commands.add_parser(
        "demo",
        help="compare attention types on a bundled real dataset",
        description=cmd_demo.__doc__,
    )
    demo.add_argument(
        "--out",
        default="demo_output/model.joblib",
        metavar="MODEL",
        help="where to save the best pipeline (default: demo_output/model.joblib)",
    )
    demo.add_argument(
        "--rows",
        type=_positive_int,
        default=3000,
        help="rows of UCI Adult (default: %(default)s)",
    )
    demo.add_argument(
        "--cv", type=int, default=3, help="number of folds (default: %(default)s)"
    )
    demo.add_argument(
        "--max-epochs",
        type=_positive_int,
        default=40,
        help="most epochs per fit (default: %(default)s)",
    )
    demo.add_argument(
        "--attentions",
        default=",".join(DEMO_ATTENTIONS),
        help="comma-separated attention types to compare (default: %(default)s)",
    )
    demo.add_argument("--random-state", type=int, default=0, metavar="SEED")
    demo.set_defaults(run=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments (``sys.argv[1:]`` if None).

    Returns
    -------
    code : int
        0 on success, 1 on an error (printed on stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except (CliError, ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        # sklearn's parameter errors are ValueErrors whose message names the fix.
        if args.debug:
            raise
        _say(f"sk-tabattn: error: {exc}")
        return 1


def _silence_stdout() -> None:
    """Point stdout at devnull after its reader has gone (``| head``).

    Python flushes stdout again at exit, which would raise a second
    BrokenPipeError; this is the recipe of the signal module's "Note on
    SIGPIPE".
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
