"""``--param key=value`` parsing for the command line."""

from __future__ import annotations

import ast

from ._cli_io import CliError
from ._validation import did_you_mean


def parse_value(text: str):
    """Turn a ``--param`` value into a Python value.

    Python literals are parsed (``3``, ``1e-3``, ``True``, ``None``,
    ``["a", "b"]``), as are ``true``/``false`` and ``null``; anything else is
    a string, so ``attention=none`` is the string ``"none"``.

    Parameters
    ----------
    text : str
        The text after ``=``.

    Returns
    -------
    value : object
        The parsed value.

    Examples
    --------
    >>> [parse_value(v) for v in ["4", "1e-3", "false", "None", "none", "mha"]]
    [4, 0.001, False, None, 'none', 'mha']
    """
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(items: list[str] | None, estimator) -> dict:
    """Parse ``KEY=VALUE`` items and check the keys against ``estimator``'s.

    Parameters
    ----------
    items : list of str or None
        The ``--param`` values.
    estimator : estimator
        Its ``get_params()`` keys are the allowed ones.

    Returns
    -------
    params : dict
        Parameter name to parsed value.

    Raises
    ------
    CliError
        For an item without ``=`` or an unknown name (with a "did you mean"
        hint).
    """
    allowed = estimator.get_params()
    params = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CliError(
                f"--param expects KEY=VALUE (for example attention=mha). Got {item!r}."
            )
        if key not in allowed:
            raise CliError(
                f"Unknown parameter {key!r} for {type(estimator).__name__}."
                + did_you_mean(key, allowed)
                + f" Valid parameters: {', '.join(sorted(allowed))}."
            )
        params[key] = parse_value(raw)
    return params
