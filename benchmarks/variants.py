"""Compare values of one hyper-parameter of our estimators by cross-validation.

    python benchmarks/variants.py                 # attention types on higgs + abalone
    python benchmarks/variants.py --param numeric_transform --values quantile standard
    python benchmarks/variants.py --quick         # smoke run

Every other parameter keeps its default. With ``--param attention`` (the
default) the best type by mean rank is written to
``results/attention.json``, which ``quality.py`` reads for its "best
attention" model. Results: ``results/variants_<param>.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from common import (
    RESULTS,
    add_threads_argument,
    fmt,
    frame_markdown,
    machine_info,
    machine_markdown,
    parse_value,
    set_threads,
    write,
)
from datasets import LOADERS, load
from quality import evaluate
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import LabelEncoder

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor

ATTENTION_TYPES = ["none", "self", "multihead", "se", "mha", "row"]


def run(args) -> pd.DataFrame:
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path = out_dir / f"variants_{args.param}.csv"
    rows = []
    for name in args.datasets:
        ds = load(name, max_rows=args.max_rows)
        y = ds.y
        if ds.task == "classification":
            y = LabelEncoder().fit_transform(y)
            splitter = StratifiedKFold(args.cv, shuffle=True, random_state=args.seed)
        else:
            splitter = KFold(args.cv, shuffle=True, random_state=args.seed)
        folds = list(splitter.split(ds.X, y))
        cls = (
            AttentionCNNClassifier
            if ds.task == "classification"
            else AttentionCNNRegressor
        )
        print(f"== {name}: {ds.describe()}", flush=True)
        for value in args.values:
            params = {args.param: value, "random_state": args.seed}
            if args.max_epochs:
                params["max_epochs"] = args.max_epochs
            scores = []
            for fold, (train, test) in enumerate(folds):
                model = cls(**params)
                torch.manual_seed(args.seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    row = evaluate(
                        model,
                        ds.task,
                        ds.X.iloc[train],
                        y[train],
                        ds.X.iloc[test],
                        y[test],
                    )
                row.update(
                    dataset=name,
                    task=ds.task,
                    value=repr(value),
                    fold=fold,
                    epochs=len(model.history_),
                    best_epoch=_best_epoch(model),
                )
                rows.append(row)
                scores.append(row)
            s = pd.DataFrame(scores)
            metric = "accuracy" if ds.task == "classification" else "r2"
            print(
                f"   {args.param}={value!r:14s} {metric}={s[metric].mean():.4f} "
                f"fit={s.fit_s.mean():.1f}s epochs={s.epochs.mean():.1f}",
                flush=True,
            )
            pd.DataFrame(rows).to_csv(raw_path, index=False)
    return pd.DataFrame(rows)


def _best_epoch(model) -> int:
    history = model.history_
    best = [h["epoch"] for h in history if h.get("valid_loss_best")]
    return best[-1] if best else len(history)


def summarize(raw: pd.DataFrame, args) -> tuple[str, str]:
    """Markdown report and the best value (by mean rank of accuracy / R²)."""
    # A run of only classification (or only regression) sets has no r2 (accuracy).
    metric = raw.reindex(columns=["accuracy", "r2"])
    raw = raw.assign(
        score=np.where(raw.task == "classification", metric.accuracy, metric.r2)
    )
    order = [repr(v) for v in args.values]
    score = raw.pivot_table(index="dataset", columns="value", values="score")[order]
    ranks = score.rank(axis=1, ascending=False).mean(axis=0)
    best_value = ranks.idxmin()
    sections = []
    for column, title, digits in (
        ("score", "accuracy (classification) / R² (regression), higher is better", 4),
        ("roc_auc", "ROC-AUC (classification)", 4),
        ("fit_s", "fit seconds per fold", 1),
        ("epochs", "epochs trained (early stopping)", 1),
        ("best_epoch", "best epoch (restored)", 1),
    ):
        if column not in raw or raw[column].isna().all():
            continue
        table = raw.pivot_table(index="dataset", columns="value", values=column)[order]
        shown = table.map(lambda v, d=digits: fmt(v, d))
        if column == "score":
            shown.loc["**mean rank**"] = [fmt(v, 2) for v in ranks[order]]
        sections.append(f"### {title}\n\n" + frame_markdown(shown, "dataset"))
    text = "\n".join(
        [
            f"# Variants of `{args.param}`",
            "",
            f"Command: `python benchmarks/variants.py {' '.join(sys.argv[1:])}`",
            "",
            f"{args.cv}-fold CV (seed {args.seed}), rows capped at "
            f"{args.max_rows:,}; every other parameter at its default. "
            f"Best by mean rank: **{best_value}**.",
            "",
            "## Machine",
            "",
            machine_markdown(),
            "",
            *("\n" + s for s in sections),
        ]
    )
    return text, best_value


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--param", default="attention")
    parser.add_argument("--values", nargs="+", type=parse_value)
    parser.add_argument(
        "--datasets", nargs="+", choices=sorted(LOADERS), default=["higgs", "abalone"]
    )
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int)
    parser.add_argument("--quick", action="store_true")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.values is None:
        if args.param != "attention":
            parser.error("--values is required for parameters other than attention")
        args.values = ATTENTION_TYPES
    if args.quick:
        args.cv, args.max_rows, args.max_epochs = 2, 500, args.max_epochs or 2
    machine_info()
    start = time.perf_counter()
    raw = run(args)
    text, best = summarize(raw, args)
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    write(out_dir / f"variants_{args.param}.md", text)
    if args.param == "attention" and not args.quick:
        payload = {
            "best": ast.literal_eval(best),
            "datasets": args.datasets,
            "cv": args.cv,
        }
        write(RESULTS / "attention.json", json.dumps(payload, indent=2))
    print(f"total {time.perf_counter() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
