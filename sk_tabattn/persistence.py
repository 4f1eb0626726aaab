"""Save and load fitted models with the versions they were made with.

Plain ``joblib.dump``/``pickle`` work too; :func:`save` adds the library
versions, and :func:`load` warns when they differ from the running ones (a
model pickled with another scikit-learn or torch may not load correctly).
"""

from __future__ import annotations

import os
import warnings
from importlib import metadata

import joblib

from ._validation import SkTabAttnWarning

_PACKAGES = ("sk_tabattn", "scikit-learn", "skorch", "torch", "numpy", "pandas")


class VersionMismatchWarning(SkTabAttnWarning):
    """A saved model was made with other library versions than the running ones."""


def _versions() -> dict[str, str]:
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - all are deps
            found[name] = "unknown"
    return found


def save(model, path: str | os.PathLike, compress: int = 3) -> None:
    """Save a fitted estimator or pipeline, with the library versions.

    Parameters
    ----------
    model : object
        A fitted estimator or pipeline.
    path : str or path-like
        File to write; its folder is created if needed.
    compress : int, default=3
        joblib compression level.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_iris
    >>> from sk_tabattn import AttentionCNNClassifier, save, load
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AttentionCNNClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.joblib")
    >>> save(clf, path)
    >>> bool((load(path).predict(X) == clf.predict(X)).all())
    True
    """
    folder = os.path.dirname(os.fspath(path))
    if folder:
        os.makedirs(folder, exist_ok=True)
    joblib.dump({"model": model, "versions": _versions()}, path, compress=compress)


def load(path: str | os.PathLike):
    """Load a model written by :func:`save` (or a plain joblib/pickle file).

    Only load files you trust: like any pickle, loading runs code. Models
    trained on a GPU are loaded onto the CPU when no GPU is available.

    Parameters
    ----------
    path : str or path-like
        File to read.

    Returns
    -------
    model : object
        The estimator or pipeline.
    """
    payload = joblib.load(path)
    if not (isinstance(payload, dict) and set(payload) == {"model", "versions"}):
        return payload
    saved, running = payload["versions"], _versions()
    differ = {k: (v, running.get(k)) for k, v in saved.items() if running.get(k) != v}
    if differ:
        detail = ", ".join(f"{k} {a} (now {b})" for k, (a, b) in differ.items())
        warnings.warn(
            f"The model at {os.fspath(path)!r} was saved with {detail}; "
            "predictions may differ or loading may fail.",
            VersionMismatchWarning,
            stacklevel=2,
        )
    return payload["model"]
