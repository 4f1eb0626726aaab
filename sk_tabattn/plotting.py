"""Plots of fitted estimators: feature attention, importances, learning curves.

matplotlib is an optional dependency (``pip install sk_tabattn[plot]``); it is
imported when a plot is drawn, never when the package is imported. Every
function draws on ``ax`` (or on a new figure's axes) and returns the
:class:`matplotlib.axes.Axes`, so plots compose with the user's own figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .explain import Explanation, _check_positive_int


def _pyplot():
    """Return ``matplotlib.pyplot``, or raise an ImportError saying how to get it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed. Install it with "
            "`pip install sk_tabattn[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def _final_estimator(estimator):
    """Return the last step of a Pipeline, or ``estimator`` itself."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def _missing_attribute(model, attribute: str, what: str) -> Exception:
    """Return the error for an estimator without ``attribute``.

    An unfitted estimator is told to fit first; a fitted one of another kind
    (say, a LogisticRegression has no ``history_``) gets a TypeError instead.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    name = type(model).__name__
    try:
        check_is_fitted(model)
    except NotFittedError:
        return NotFittedError(
            f"This {name} is not fitted yet (it has no {attribute}): call fit "
            "before plotting it."
        )
    except TypeError:  # not an estimator at all
        pass
    return TypeError(f"estimator must be {what}. Got {name}, which has no {attribute}.")


def plot_feature_attention(
    explanation,
    *,
    kind: str = "attention",
    max_rows: int = 50,
    ax=None,
    cmap: str | None = None,
):
    """Heatmap of per-row feature attention (or attribution): rows × columns.

    Parameters
    ----------
    explanation : Explanation or DataFrame
        The result of ``estimator.explain(X)``, or any DataFrame of per-row
        values with one column per feature.
    kind : {"attention", "attribution"}, default="attention"
        Which table of an :class:`~sk_tabattn.explain.Explanation` to draw:
        ``feature_attention`` (shares summing to 1 per row) or
        ``feature_attribution`` (signed contributions, drawn on a diverging
        colour scale centred on 0).
    max_rows : int, default=50
        Draw at most the first ``max_rows`` rows (at least 1).
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure if None.
    cmap : str or None, default=None
        Colour map; ``"viridis"`` for attention, ``"RdBu_r"`` for attribution.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sk_tabattn import AttentionCNNClassifier
    >>> from sk_tabattn.plotting import plot_feature_attention
    >>> X, y = load_iris(return_X_y=True, as_frame=True)
    >>> clf = AttentionCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> ax = plot_feature_attention(clf.explain(X.iloc[:10]))
    >>> ax.get_xlabel()
    'feature'
    """
    if kind not in ("attention", "attribution"):
        raise ValueError(f"kind must be 'attention' or 'attribution'. Got {kind!r}.")
    _check_positive_int(max_rows, "max_rows")
    if isinstance(explanation, Explanation):
        table = (
            explanation.feature_attention
            if kind == "attention"
            else explanation.feature_attribution
        )
    elif isinstance(explanation, pd.DataFrame):
        table = explanation
    else:
        raise TypeError(
            "explanation must be an Explanation (from estimator.explain(X)) or a "
            f"DataFrame. Got {type(explanation).__name__} instead."
        )
    table = table.iloc[:max_rows]
    values = table.to_numpy(dtype=float)
    ax = _new_axes(ax, (max(4.0, 0.5 * table.shape[1] + 2), 0.25 * len(table) + 2))
    if kind == "attribution":
        bound = float(np.abs(values).max()) or 1.0
        image = ax.imshow(
            values, aspect="auto", cmap=cmap or "RdBu_r", vmin=-bound, vmax=bound
        )
        label = "attribution"
    else:
        image = ax.imshow(values, aspect="auto", cmap=cmap or "viridis", vmin=0)
        label = "attention share"
    ax.figure.colorbar(image, ax=ax, label=label)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.tick_params(axis="x", labelrotation=90)
    ax.set_yticks(range(len(table)), [str(i) for i in table.index])
    ax.set_xlabel("feature")
    ax.set_ylabel("row")
    ax.set_title(f"Feature {label} per row")
    return ax


def plot_feature_importances(
    estimator,
    *,
    feature_names=None,
    max_features: int | None = 20,
    ax=None,
    color: str = "C0",
):
    """Horizontal bar chart of feature importances, largest on top.

    Parameters
    ----------
    estimator : fitted estimator, Pipeline or array-like
        Anything with ``feature_importances_`` (the last step of a Pipeline
        is used), or the importances themselves.
    feature_names : sequence of str or None, default=None
        Names of the bars; defaults to the estimator's ``feature_names_in_``,
        else ``x0, x1, ...``.
    max_features : int or None, default=20
        Draw only the ``max_features`` most important ones (at least 1; all
        if None).
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure if None.
    color : str, default="C0"
        Bar colour.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sk_tabattn.plotting import plot_feature_importances
    >>> ax = plot_feature_importances([0.5, 0.3, 0.2], feature_names=["a", "b", "c"])
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['c', 'b', 'a']
    """
    # A negative value would slice off the least important bars instead.
    _check_positive_int(max_features, "max_features", allow_none=True)
    model = _final_estimator(estimator)
    if hasattr(model, "feature_importances_"):
        importances = np.asarray(model.feature_importances_, dtype=float)
        if feature_names is None and hasattr(model, "feature_names_in_"):
            feature_names = list(model.feature_names_in_)
    elif hasattr(model, "fit"):
        raise _missing_attribute(
            model,
            "feature_importances_",
            "an estimator with feature_importances_, a Pipeline ending in one, or "
            "the importances",
        )
    else:
        importances = np.asarray(estimator, dtype=float)
    if importances.ndim != 1:
        raise ValueError(
            f"Importances must be 1-D. Got an array of shape {importances.shape}."
        )
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(len(importances))]
    if len(feature_names) != len(importances):
        raise ValueError(
            f"Got {len(feature_names)} feature names for {len(importances)} "
            "importances."
        )
    order = np.argsort(-importances, kind="stable")[:max_features][::-1]
    ax = _new_axes(ax, (6.0, 0.3 * len(order) + 1.5))
    ax.barh(range(len(order)), importances[order], color=color)
    ax.set_yticks(range(len(order)), [str(feature_names[i]) for i in order])
    ax.set_xlabel("importance (sums to 1)")
    ax.set_title("Feature importances")
    return ax


def plot_learning_curves(estimator, *, ax=None, log_scale: bool = False):
    """Training and validation loss per epoch, from ``history_``.

    The epoch with the lowest validation loss is marked (with
    ``early_stopping=True``, the weights the model keeps).

    Parameters
    ----------
    estimator : fitted estimator, Pipeline or skorch History
        Anything with ``history_`` (the last step of a Pipeline is used), or
        a skorch ``History``.
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure if None.
    log_scale : bool, default=False
        Use a logarithmic loss axis.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sk_tabattn import AttentionCNNClassifier
    >>> from sk_tabattn.plotting import plot_learning_curves
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AttentionCNNClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> ax = plot_learning_curves(clf)
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['train loss', 'valid loss']
    """
    model = _final_estimator(estimator)
    history = getattr(model, "history_", model)
    if history is model and hasattr(model, "fit"):
        raise _missing_attribute(
            model,
            "history_",
            "a fitted sk_tabattn estimator, a Pipeline ending in one, or a skorch "
            "History",
        )
    if not hasattr(history, "__getitem__") or not hasattr(history, "__len__"):
        raise TypeError(
            "estimator must be a fitted sk_tabattn estimator, a Pipeline ending "
            f"in one, or a skorch History. Got {type(model).__name__} instead."
        )
    if len(history) == 0:
        raise ValueError("The history is empty: fit the estimator first.")
    epochs = [row["epoch"] for row in history]
    ax = _new_axes(ax, (6.0, 4.0))
    ax.plot(epochs, [row["train_loss"] for row in history], label="train loss")
    if "valid_loss" in history[0]:
        valid = [row["valid_loss"] for row in history]
        ax.plot(epochs, valid, label="valid loss")
        best = int(np.argmin(valid))
        ax.scatter(
            [epochs[best]],
            [valid[best]],
            color="black",
            zorder=3,
            label=f"lowest valid loss (epoch {epochs[best]})",
        )
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Learning curves")
    ax.legend()
    return ax
