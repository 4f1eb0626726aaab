"""Reading and writing tables for the command line (CSV, compressed CSV, parquet)."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
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
    text_columns: Collection[str] = (),
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
    text_columns : collection of str, default=()
        CSV columns to read as text even when they hold only numbers (missing
        values stay missing). Parquet files keep their stored types.

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
    kind = _table_suffix(path)
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
                dtype=_text_dtypes(text_columns, no_header) or None,
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


def _table_suffix(path: Path) -> str:
    """Return the suffix that names the format, after compression (``.csv.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def is_parquet(path: str | Path) -> bool:
    """Whether :func:`read_table` reads ``path`` as parquet (by its suffix)."""
    return _table_suffix(Path(path)) in _PARQUET_SUFFIXES


def _text_dtypes(columns: Collection[str], no_header: bool) -> dict:
    """``read_csv``'s ``dtype`` for ``columns``; names absent from the file are ignored.

    Without a header, ``read_csv`` names the columns 0, 1, ... (ints), and
    :func:`read_table` renames them "0", "1", ... only after reading.
    """
    if no_header:
        return dict.fromkeys((int(c) for c in columns if str(c).isdigit()), str)
    return dict.fromkeys(columns, str)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except ImportError as exc:
        raise CliError(
            "Reading parquet files needs pyarrow (or fastparquet), which is not "
            "installed. Install it with `pip install pyarrow`, or save the table "
            "as CSV."
        ) from exc


def check_out_path(
    out: str | Path, *, option: str = "--out", example: str = "out.csv"
) -> None:
    """Fail early, before any work, when ``out`` cannot be written as a file.

    Parameters
    ----------
    out : str or Path
        The file to write; ``"-"`` (standard output) is always fine.
    option : str, default="--out"
        The option's name, for the message.
    example : str, default="out.csv"
        A file name to suggest when ``out`` is a folder.

    Raises
    ------
    CliError
        When ``out`` is a folder, or its nearest existing ancestor is not a
        writable folder.
    """
    if str(out) == "-":
        return
    path = Path(out)
    if path.is_dir():
        raise CliError(
            f"{option} '{path}' is a folder; give a file name, for example "
            f"'{path / example}'."
        )
    # The folders that do not exist yet are created when writing.
    ancestor = next((p for p in path.absolute().parents if p.exists()), None)
    if ancestor is None:  # pragma: no cover - the root always exists
        return
    if not ancestor.is_dir():
        raise CliError(
            f"{option} '{path}' cannot be written: '{ancestor}' is a file, not a "
            "folder."
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CliError(
            f"{option} '{path}' cannot be written: '{ancestor}' is read-only."
        )


def write_table(frame: pd.DataFrame, out: str) -> None:
    """Write ``frame`` as CSV (or parquet, by suffix); ``"-"`` means stdout.

    Parameters
    ----------
    frame : DataFrame
        The table to write (without its index).
    out : str
        File to write (its folder is created if needed), or ``"-"``.

    Raises
    ------
    CliError
        When the file cannot be written, or parquet support is not installed.
    """
    if out == "-":
        # A BrokenPipeError (``| head``) goes up to main(), which handles it.
        frame.to_csv(sys.stdout, index=False)
        return
    path = Path(out)
    check_out_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() in _PARQUET_SUFFIXES:
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    except ImportError as exc:
        raise CliError(
            "Writing parquet files needs pyarrow (or fastparquet): "
            "`pip install pyarrow`, or write a .csv file."
        ) from exc
    except OSError as exc:
        raise CliError(f"Could not write '{path}': {exc.strerror or exc}.") from exc
