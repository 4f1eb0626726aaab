"""Reading and writing tables for the command line (CSV, compressed CSV, parquet)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

_PARQUET_SUFFIXES = {".parquet", ".pq"}
_COMPRESSION_SUFFIXES = {".gz", ".bz2", ".zip", ".xz", ".zst", ".tar"}


class CliError(Exception):
    """An error the user can fix; printed without a traceback."""


def read_table(
    path: str | Path,
    *,
    sep: str | None = None,
    no_header: bool = False,
    na_values: list[str] | None = None,
) -> pd.DataFrame:
    """Read a CSV or parquet file into a DataFrame, with errors that say what to do.

    Parameters
    ----------
    path : str or Path
        A ``.csv``/``.tsv``/``.txt`` file (optionally compressed, e.g.
        ``.csv.gz``) or a ``.parquet``/``.pq`` file.
    sep : str or None, default=None
        CSV separator; a tab for ``.tsv`` files and a comma otherwise.
    no_header : bool, default=False
        The CSV has no header row: columns are named ``"0"``, ``"1"``, ...
    na_values : list of str or None, default=None
        Extra strings read as missing values (for example ``"?"``).

    Returns
    -------
    frame : DataFrame
        The table. Spaces after a CSV separator are skipped.

    Raises
    ------
    CliError
        When the file is missing, empty, unreadable, or parquet support is not
        installed.
    """
    path = Path(path)
    if not path.exists():
        raise CliError(f"No such file: '{path}'.")
    if path.is_dir():
        raise CliError(f"'{path}' is a folder; expected a CSV or parquet file.")
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    kind = suffixes[-1] if suffixes else ""
    try:
        if kind in _PARQUET_SUFFIXES:
            frame = _read_parquet(path)
        else:
            frame = pd.read_csv(
                path,
                sep=sep or ("\t" if kind == ".tsv" else ","),
                header=None if no_header else "infer",
                skipinitialspace=True,
                na_values=na_values,
            )
    except pd.errors.EmptyDataError as exc:
        raise CliError(f"'{path}' is empty.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise CliError(f"Could not read '{path}' as a table: {exc}") from exc
    if no_header:
        frame.columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise CliError(f"'{path}' has no data rows.")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        raise CliError(
            "Reading parquet files needs pyarrow (or fastparquet), which is not "
            "installed. Install it with `pip install pyarrow`, or save the table "
            "as CSV."
        ) from exc


def write_table(frame: pd.DataFrame, out: str) -> None:
    """Write ``frame`` as CSV (or parquet, by suffix); ``"-"`` means stdout."""
    if out == "-":
        frame.to_csv(sys.stdout, index=False)
        return
    path = Path(out)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise CliError(
                "Writing parquet files needs pyarrow (or fastparquet): "
                "`pip install pyarrow`, or write a .csv file."
            ) from exc
    else:
        frame.to_csv(path, index=False)
