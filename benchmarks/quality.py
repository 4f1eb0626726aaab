"""Quality benchmark: cross-validated scores of default models on the suite.

    python benchmarks/quality.py --threads 1   # full run: 5-fold (3 over 5,000 rows)
    python benchmarks/quality.py --quick       # smoke run: 3 small sets, 2 folds

Writes ``benchmarks/results/quality_raw.csv`` (one row per dataset, model and
fold, appended as each dataset finishes; ``--resume`` skips what is there),
``quality.md`` (a table per metric, mean and mean-rank rows) and
``quality.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from common import (
    BENCH_DIR,
    RESULTS,
    Stopwatch,
    add_threads_argument,
    fmt,
    frame_markdown,
    load_average,
    machine_info,
    machine_markdown,
    matplotlib_pyplot,
    mean_ranks,
    parse_params,
    set_threads,
    write,
)
from datasets import LOADERS, load
from joblib import Parallel, delayed
from models import OURS, models_for, set_max_epochs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    accuracy_score,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import LabelEncoder

from sk_tabattn import AttentionCNNClassifier

QUICK_DATASETS = ["wine", "breast_cancer", "diabetes"]
DEFAULT_ATTENTION = AttentionCNNClassifier().attention
METRICS = {
    # name: (task, higher is better, digits)
    "accuracy": ("classification", True, 4),
    "roc_auc": ("classification", True, 4),
    "rmse": ("regression", False, 4),
    "r2": ("regression", True, 4),
}


def evaluate(model, task, X_train, y_train, X_test, y_test) -> dict:
    with Stopwatch() as fit_time:
        model.fit(X_train, y_train)
    row = {"fit_s": fit_time.seconds}
    if task == "classification":
        with Stopwatch() as predict_time:
            proba = model.predict_proba(X_test)
        y_pred = np.asarray(model.classes_)[proba.argmax(axis=1)]
        row["accuracy"] = accuracy_score(y_test, y_pred)
        if proba.shape[1] == 2:
            row["roc_auc"] = roc_auc_score(y_test, proba[:, 1])
        else:
            row["roc_auc"] = roc_auc_score(y_test, proba, multi_class="ovr")
    else:
        with Stopwatch() as predict_time:
            y_pred = model.predict(X_test)
        row["rmse"] = root_mean_squared_error(y_test, y_pred)
        row["r2"] = r2_score(y_test, y_pred)
    row["predict_s"] = predict_time.seconds
    return row


def fit_one(task, X, y, train, test, model_name, seed, variants, args) -> dict:
    """Fit and score one model on one fold; runs in a worker process with ``--jobs``."""
    set_threads(args.threads)  # a worker starts with the library's defaults
    model = models_for(task, seed, variants)[model_name]
    if args.max_epochs:
        set_max_epochs(model, args.max_epochs)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        row = evaluate(model, task, X.iloc[train], y[train], X.iloc[test], y[test])
    row.update(epochs=epochs_trained(model), n_train=len(train), load1=load_average())
    return row


def run_dataset(name, args, variants: list[dict], done: set) -> list[dict]:
    """Every (model, repeat, fold) of dataset ``name`` not in ``done``.

    The folds are drawn once from ``--seed``; repeat ``r`` seeds the models
    (and torch) with ``--seed + r``, so repeat 0 is a single-seed run.
    """
    ds = load(name, max_rows=args.max_rows)
    y = ds.y
    n_folds = args.cv if len(y) <= args.slow_rows else args.cv_slow
    if ds.task == "classification":
        y = LabelEncoder().fit_transform(y)  # skorch needs int labels; same for all
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=args.seed)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=args.seed)
    folds = list(splitter.split(ds.X, y))
    names = list(models_for(ds.task, args.seed, variants))
    if args.models:
        names = [m for m in names if any(m.startswith(k) for k in args.models)]
    print(f"== {name}: {ds.describe()}", flush=True)
    jobs = []
    for model_name in names:
        for repeat in range(args.repeats):
            if (name, model_name, repeat) in done:
                print(
                    f"   {model_name} (repeat {repeat}): already in "
                    "quality_raw.csv, skipped",
                    flush=True,
                )
                continue
            jobs += [(model_name, repeat, fold) for fold in range(len(folds))]
    if not jobs:
        return []
    # Ours (the slowest) first, so that the workers finish at about the same time.
    jobs.sort(key=lambda job: not job[0].startswith(OURS))
    results = Parallel(n_jobs=args.jobs)(
        delayed(fit_one)(
            ds.task,
            ds.X,
            y,
            *folds[fold],
            model_name,
            args.seed + repeat,
            variants,
            args,
        )
        for model_name, repeat, fold in jobs
    )
    rows = []
    for (model_name, repeat, fold), row in zip(jobs, results, strict=True):
        row.update(
            dataset=name, task=ds.task, model=model_name, fold=fold, repeat=repeat
        )
        rows.append(row)
    metric = "accuracy" if ds.task == "classification" else "rmse"
    for model_name, scores in pd.DataFrame(rows).groupby("model", sort=False):
        print(
            f"   {model_name:32s} {metric}={scores[metric].mean():.4f} "
            f"fit={scores.fit_s.mean():.1f}s predict={scores.predict_s.mean():.2f}s "
            f"({scores.repeat.nunique()} repeats)",
            flush=True,
        )
    return rows


def epochs_trained(model) -> float:
    """Epochs (or iterations) a neural model trained for; NaN for the others."""
    for attr in ("regressor_", "steps"):
        if hasattr(model, attr):
            inner = model.regressor_ if attr == "regressor_" else model.steps[-1][1]
            return epochs_trained(inner)
    if hasattr(model, "history_"):
        return len(model.history_)
    if hasattr(model, "history"):  # skorch net
        return len(model.history)
    if type(model).__name__.startswith("MLP"):  # sklearn's MLP: iterations = epochs
        return model.n_iter_
    return np.nan


# -- report -------------------------------------------------------------------------
def per_dataset(raw: pd.DataFrame, column: str, task: str) -> pd.DataFrame:
    sub = raw[raw.task == task]
    if column not in sub or sub[column].isna().all():
        return pd.DataFrame()
    table = sub.pivot_table(
        index="dataset", columns="model", values=column, aggfunc="mean"
    )
    order = [m for m in _model_order(raw) if m in table.columns]
    return table[order]


def _model_order(raw: pd.DataFrame) -> list[str]:
    seen = list(dict.fromkeys(raw.model))
    first = sorted((m for m in seen if m.startswith(OURS)), key=lambda m: m != OURS)
    return first + [m for m in seen if m not in first]


def metric_section(raw, metric) -> str:
    task, higher, digits = METRICS[metric]
    table = per_dataset(raw, metric, task)
    if table.empty:
        return ""
    shown = table.map(lambda v: fmt(v, digits))
    if metric != "rmse":  # RMSE is on each target's own scale: no mean
        shown.loc["**mean**"] = [fmt(v, digits) for v in table.mean(axis=0)]
    shown.loc["**mean rank**"] = [fmt(v, 2) for v in mean_ranks(table, higher)]
    arrow = "higher" if higher else "lower"
    return f"### {metric} ({arrow} is better)\n\n" + frame_markdown(shown, "dataset")


def time_section(raw, column, title) -> str:
    table = raw.pivot_table(
        index="dataset", columns="model", values=column, aggfunc="mean"
    )
    table = table[[m for m in _model_order(raw) if m in table.columns]]
    shown = table.map(lambda v: fmt(v, 2))
    shown.loc["**mean rank**"] = [fmt(v, 2) for v in mean_ranks(table, False)]
    return f"### {title}\n\n" + frame_markdown(shown, "dataset")


def overall_rank(raw, models: list[str]) -> pd.Series:
    """Mean rank of ``models`` over all datasets (accuracy, or RMSE)."""
    parts = []
    for metric, task in (("accuracy", "classification"), ("rmse", "regression")):
        table = per_dataset(raw, metric, task)
        table = table[[m for m in models if m in table.columns]]
        if not table.empty:
            parts.append(table.rank(axis=1, ascending=metric == "rmse"))
    if not parts:  # e.g. a run of variants only, without the default's rows
        return pd.Series(dtype=float)
    return pd.concat(parts).mean(axis=0).sort_values()


def headline(raw) -> str:
    """Ranks of the default model among the baselines; each variant in its place.

    Our variants are left out of each other's ranking so that adding a variant
    column does not change the default model's rank. With several repeats the
    ranks are of the scores averaged over folds and repeats, and the ranks of
    each repeat alone show how much one seed moves them.
    """
    models = _model_order(raw)
    baselines = [m for m in models if not m.startswith(OURS)]
    repeats = sorted(raw.repeat.unique())
    by_repeat = len(repeats) > 1

    def rank_cells(model: str, competitors: list[str]) -> list[str]:
        cells = [overall_rank(raw, competitors)[model]]
        if by_repeat:
            cells += [
                overall_rank(raw[raw.repeat == r], competitors)[model] for r in repeats
            ]
        return [f"{v:.2f}" for v in cells]

    header = ["model", "mean rank, all datasets (accuracy / RMSE)"]
    if by_repeat:
        header[1] += f", scores averaged over {len(repeats)} repeats"
        header += [f"repeat {r} alone" for r in repeats]
    lines = [
        "| " + " | ".join(header) + " |",
        "| --- |" + " ---: |" * (len(header) - 1),
    ]
    for m in overall_rank(raw, [OURS, *baselines]).index:
        lines.append(f"| {m} | " + " | ".join(rank_cells(m, [OURS, *baselines])) + " |")
    for other in [m for m in models if m.startswith(OURS) and m != OURS]:
        cells = rank_cells(other, [other, *baselines])
        lines.append(
            f"| *`{other}` in place of the default* | "
            + " | ".join(f"*{c}*" for c in cells)
            + " |"
        )
    acc = per_dataset(raw, "accuracy", "classification")
    if OURS in acc and "HistGB" in acc:
        common_rows = acc[[OURS, "HistGB"]].dropna()
        gap = 100 * (common_rows[OURS].mean() - common_rows["HistGB"].mean())
        wins = int((common_rows[OURS] > common_rows["HistGB"]).sum())
        lines.append("")
        lines.append(
            f"Mean accuracy of `{OURS}` minus HistGB's on the "
            f"{len(common_rows)} classification sets: **{gap:+.2f} percentage points** "
            f"(target ≥ −1.00); higher accuracy than HistGB on {wins} of them."
        )
        for other in [c for c in acc.columns if c.startswith(OURS) and c != OURS]:
            both = acc[[other, "HistGB"]].dropna()
            gap = 100 * (both[other].mean() - both["HistGB"].mean())
            lines.append(f"`{other}` minus HistGB: {gap:+.2f} pp.")
    return "\n".join(lines)


def report(raw: pd.DataFrame, args, info, datasets_desc: dict) -> None:
    parts = [
        "# Quality benchmark",
        "",
        f"Command: `python benchmarks/quality.py {' '.join(sys.argv[1:])}`".replace(
            "  ", " "
        ),
        "",
        f"{args.cv}-fold cross-validation ({args.cv_slow}-fold on the sets of more "
        f"than {args.slow_rows:,} rows; stratified for classification, shuffled, "
        f"seed {args.seed}); rows capped at {args.max_rows:,} (a fixed stratified "
        "subsample) "
        "so the run fits in about an hour on 2 cores. Every model with default "
        "settings (see benchmarks/README.md for the baselines' preprocessing). "
        f"{_attention_note()} "
        f"{_repeats_note(raw)}"
        "Scores are means over the folds; fit and predict times are seconds per fold "
        "(wall clock, on a machine shared with other jobs: see the load column of "
        "quality_raw.csv).",
        "",
        "## Machine",
        "",
        machine_markdown(info),
        "",
        "## Datasets",
        "",
        *(f"- **{k}**: {v}" for k, v in datasets_desc.items()),
        "",
        "## Headline",
        "",
        headline(raw),
        "",
        "## Classification",
        "",
        metric_section(raw, "accuracy"),
        "",
        metric_section(raw, "roc_auc"),
        "",
        "## Regression",
        "",
        metric_section(raw, "rmse"),
        "",
        metric_section(raw, "r2"),
        "",
        "## Time",
        "",
        time_section(raw, "fit_s", "fit seconds per fold"),
        "",
        time_section(raw, "predict_s", "predict seconds per fold (the held-out fold)"),
        "",
        "## Epochs trained by the neural models (mean over folds)",
        "",
        frame_markdown(
            raw.dropna(subset=["epochs"])
            .pivot_table(
                index="dataset", columns="model", values="epochs", aggfunc="mean"
            )
            .map(lambda v: fmt(v, 1)),
            "dataset",
        ),
        "",
        "![quality](quality.png)",
    ]
    write(
        RESULTS / args.name / "quality.md" if args.name else RESULTS / "quality.md",
        "\n".join(parts),
    )
    plot(
        raw,
        RESULTS / args.name / "quality.png" if args.name else RESULTS / "quality.png",
    )


def _repeats_note(raw: pd.DataFrame) -> str:
    repeats = sorted(raw.repeat.unique())
    if len(repeats) == 1:
        return ""
    return (
        f"Every model is fitted {len(repeats)} times per fold, with seeds "
        f"{', '.join(str(r) for r in repeats)} added to the folds' seed (the folds "
        "stay the same), and its scores averaged: one seed moves a neural model's "
        "accuracy on a set by up to about a point. "
    )


def _attention_note() -> str:
    default = DEFAULT_ATTENTION
    best = best_attention_from_file()
    if best is None:
        return f"Our default attention type is {default!r}."
    same = (
        "so the default column is also the best attention type's"
        if (best == default)
        else f"run as its own column beside the default ({default!r})"
    )
    return (
        f"The best attention type by mean rank in `variants.py --param attention` "
        f"(results/variants_attention.md) is {best!r}, {same}; the mean ranks in the "
        "per-metric tables are over all columns shown, those of the headline over "
        "the default model and the baselines."
    )


def plot(raw: pd.DataFrame, path) -> None:
    plt = matplotlib_pyplot()
    panels = [
        ("accuracy", "classification", "accuracy"),
        ("r2", "regression", "R²"),
        ("fit_s", None, "fit seconds per fold (log)"),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(18, 5))
    for ax, (column, task, title) in zip(axes, panels, strict=True):
        sub = raw if task is None else raw[raw.task == task]
        if column not in sub or sub[column].isna().all():
            ax.set_visible(False)
            continue
        table = sub.pivot_table(
            index="dataset", columns="model", values=column, aggfunc="mean"
        )
        if table.empty:
            ax.set_visible(False)
            continue
        table = table[[m for m in _model_order(raw) if m in table.columns]]
        table.plot.bar(ax=ax, width=0.8, legend=False, logy=task is None)
        ax.set_title(title)
        ax.set_xlabel("")
        if task is not None:
            low = np.nanmin(table.to_numpy())
            ax.set_ylim(
                max(low - 0.05, 0) if column == "accuracy" else max(low - 0.1, -0.5),
                None,
            )
        ax.tick_params(axis="x", rotation=30)
    handles, labels = axes[2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", flush=True)


def read_raw(path) -> pd.DataFrame:
    """quality_raw.csv; rows written before ``--repeats`` existed are repeat 0."""
    raw = pd.read_csv(path)
    if "repeat" not in raw:
        raw["repeat"] = 0
    raw["repeat"] = raw["repeat"].fillna(0).astype(int)
    return raw


def best_attention_from_file() -> str | None:
    path = RESULTS / "attention.json"
    if path.exists():
        return json.loads(path.read_text())["best"]
    return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", nargs="+", choices=sorted(LOADERS), default=list(LOADERS)
    )
    parser.add_argument("--cv", type=int, default=5, help="folds of the small sets")
    parser.add_argument(
        "--cv-slow", type=int, default=3, help="folds of the sets over --slow-rows"
    )
    parser.add_argument("--slow-rows", type=int, default=5000)
    parser.add_argument("--max-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", help="only models whose name starts so")
    parser.add_argument(
        "--best-attention",
        default="auto",
        help="attention type of the 'best attention' model; 'auto' reads "
        "results/attention.json (written by variants.py), 'none-model' skips it",
    )
    parser.add_argument(
        "--ours-variant",
        action="append",
        default=[],
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="also run our estimator with these parameters (repeatable)",
    )
    parser.add_argument(
        "--max-epochs", type=int, help="cap epochs of the neural models"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="fits per model and fold, with seeds --seed, --seed + 1, ...; scores "
        "are averaged over folds and repeats",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="fits run in parallel (processes)"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument(
        "--resume", action="store_true", help="keep rows of quality_raw.csv"
    )
    parser.add_argument("--name", default="", help="sub-folder of results/ to write to")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite quality.md and quality.png from quality_raw.csv, fit nothing",
    )
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.quick:
        if args.datasets == list(LOADERS):
            args.datasets = QUICK_DATASETS
        args.cv = args.cv_slow = 2
        args.max_rows = min(args.max_rows, 2000)
        args.max_epochs = args.max_epochs or 3
        # Smoke runs stay under results/quick/, which git ignores.
        args.name = f"quick/{args.name}" if args.name else "quick"
    best = args.best_attention
    if best == "auto":
        best = best_attention_from_file()
    elif best == "none-model":
        best = None
    if best == DEFAULT_ATTENTION:
        print(f"the best attention type, {best!r}, is the default", flush=True)
        best = None
    variants = [{"attention": best}] if best else []
    variants += [parse_params(spec) for spec in args.ours_variant]

    info = machine_info()
    out_dir = RESULTS / args.name if args.name else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path = out_dir / "quality_raw.csv"
    raw = read_raw(raw_path) if args.resume and raw_path.exists() else pd.DataFrame()
    done = (
        set()
        if raw.empty
        else set(zip(raw.dataset, raw.model, raw.repeat, strict=True))
    )
    # Worker processes import common/datasets/models from this folder.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH")])
    )
    desc = {}
    start = time.perf_counter()
    info_path = out_dir / "quality_machine.json"
    if args.report_only:
        if info_path.exists():  # the machine and commit of the run, not of now
            info = json.loads(info_path.read_text())
        raw = read_raw(raw_path)
        desc = {
            n: load(n, max_rows=args.max_rows).describe()
            for n in dict.fromkeys(raw.dataset)
        }
        report(raw, args, info, desc)
        return
    info_path.write_text(json.dumps(info, indent=1))
    for name in args.datasets:
        desc[name] = load(name, max_rows=args.max_rows).describe()
        rows = run_dataset(name, args, variants, done)
        if rows:
            raw = pd.concat([raw, pd.DataFrame(rows)], ignore_index=True)
            raw.to_csv(raw_path, index=False)
        report(raw, args, info, desc)
    print(f"total {time.perf_counter() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
