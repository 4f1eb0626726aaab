"""The demo: attention types side by side on a bundled real dataset.

Cross-validates several attention blocks beside the plain 1D-CNN (and
HistGradientBoosting as a reference) on a subsample of UCI Adult, with its
categorical and missing values as they are, then fits the best pipeline on
all rows and saves it.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline

from .classifier import AttentionCNNClassifier
from .datasets import load_adult
from .persistence import load, save

DEMO_ATTENTIONS = ("none", "self", "multihead", "se", "mha", "row")


def make_pipeline(model) -> Pipeline:
    """Drop ``fnlwgt`` (a census sampling weight, not a trait) and fit ``model``."""
    drop = ColumnTransformer(
        [("drop", "drop", ["fnlwgt"])],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return Pipeline([("columns", drop), ("model", model)])


def run_demo(
    out: str = "demo_output/model.joblib",
    *,
    n_rows: int = 3000,
    cv: int = 3,
    max_epochs: int = 40,
    attentions=DEMO_ATTENTIONS,
    random_state: int = 0,
    print_fn=print,
) -> pd.DataFrame:
    """Run the demo and return the table of cross-validated scores.

    Parameters
    ----------
    out : str, default="demo_output/model.joblib"
        Where to save the fitted best pipeline.
    n_rows : int, default=3000
        Rows of UCI Adult to use.
    cv : int, default=3
        Number of stratified folds.
    max_epochs : int, default=40
        Most epochs per fit (early stopping usually ends sooner).
    attentions : sequence of str, default=DEMO_ATTENTIONS
        Attention types to compare; ``"none"`` is the plain 1D-CNN.
    random_state : int, default=0
        Seed of the subsample, the folds and the networks.
    print_fn : callable, default=print
        Where progress and results go.

    Returns
    -------
    scores : DataFrame
        One row per model: mean and std of accuracy and ROC AUC, fit seconds.
    """
    X, y = load_adult(n_rows=n_rows, random_state=random_state)
    print_fn(
        f"UCI Adult: {len(X)} rows, {X.shape[1]} columns "
        f"({int(X.isna().sum().sum())} missing values), "
        f"{cv}-fold stratified cross-validation"
    )
    folds = StratifiedKFold(cv, shuffle=True, random_state=random_state)
    models = {
        f"attention={a!r}": AttentionCNNClassifier(
            attention=a, max_epochs=max_epochs, random_state=random_state
        )
        for a in attentions
    }
    models["HistGradientBoosting (reference)"] = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=random_state
    )
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        pipe = make_pipeline(model)
        if isinstance(model, HistGradientBoostingClassifier):
            # HistGradientBoosting wants the string columns as pandas categories.
            pipe.steps.insert(1, ("categories", _ToCategory()))
        res = cross_validate(pipe, X, y, cv=folds, scoring=("accuracy", "roc_auc"))
        rows.append(
            {
                "model": name,
                "accuracy": res["test_accuracy"].mean(),
                "accuracy_std": res["test_accuracy"].std(),
                "roc_auc": res["test_roc_auc"].mean(),
                "fit_seconds": res["fit_time"].mean(),
            }
        )
        print_fn(
            f"  {name:<34} accuracy {rows[-1]['accuracy']:.4f} "
            f"± {rows[-1]['accuracy_std']:.4f}   ROC AUC {rows[-1]['roc_auc']:.4f}   "
            f"({time.perf_counter() - start:.0f} s)"
        )
    scores = pd.DataFrame(rows).set_index("model")
    ours = scores.loc[[m for m in scores.index if m.startswith("attention=")]]
    best = ours["roc_auc"].idxmax()
    best_attention = best.split("'")[1]
    print_fn(
        f"Best attention by ROC AUC: {best_attention!r}. Fitting it on all rows..."
    )
    pipe = make_pipeline(
        AttentionCNNClassifier(
            attention=best_attention, max_epochs=max_epochs, random_state=random_state
        )
    ).fit(X, y)
    save(pipe, out)
    same = np.array_equal(load(out).predict_proba(X), pipe.predict_proba(X))
    print_fn(
        f"Saved the fitted pipeline to {out} (reloaded predictions identical: {same})"
    )
    return scores


class _ToCategory:
    """Cast string columns to pandas categories (for HistGradientBoosting)."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X.astype({c: "category" for c in X.columns if X[c].dtype.kind in "OT"})

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self
