"""Shared helpers of the benchmarks: machine description, timing, tables, ranks."""

from __future__ import annotations

import ast
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"

# The benchmarks import the package from the repository they live in.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def git_commit() -> str:
    """Short hash of the repository's HEAD, with ``+dirty`` when files changed."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "sk_tabattn"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+dirty (sk_tabattn/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's name, with its family and model numbers where Linux gives them.

    Virtual machines may name different generations alike ("AMD EPYC"): the
    numbers tell them apart. On 2026-12-05 an "AMD EPYC" of family 23, model
    1 (Zen 1) ran the 2048² float32 matmul at about half the rate the EPYC of
    the day's earlier runs did, on 2 cores.
    """
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if not line.strip():
                break  # the first processor's block is enough
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    numbers = [f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields]
    return f"{name} ({', '.join(numbers)})" if numbers else name


def machine_info() -> dict[str, str]:
    """What the numbers were measured on."""
    import sklearn
    import skorch
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    return {
        "cpu": cpu_model(),
        "cores (nproc)": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "OpenMP/BLAS threads": ", ".join(
            sorted({f"{p['internal_api']}={p['num_threads']}" for p in _threadpools()})
        ),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "sk_tabattn commit": git_commit(),
        "load average at start (1/5/15 min)": " / ".join(f"{v:.2f}" for v in load),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def _threadpools() -> list[dict]:
    from threadpoolctl import threadpool_info

    return threadpool_info()


def machine_markdown(info: dict[str, str] | None = None) -> str:
    info = info or machine_info()
    return "\n".join(f"- {k}: {v}" for k, v in info.items())


def set_threads(n: int | None) -> None:
    """Limit torch and the OpenMP/BLAS pools (HistGradientBoosting, numpy) to ``n``.

    On a machine shared with other jobs, two spinning OpenMP threads per
    process slow torch down several-fold; one thread per process is steadier.
    """
    if not n:
        return
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(n)
    os.environ["OMP_NUM_THREADS"] = str(n)  # for subprocesses


def add_threads_argument(parser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads of torch and OpenMP/BLAS per process (default: library defaults)",
    )


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table; the first column is left-aligned, the rest right."""
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def frame_markdown(frame: pd.DataFrame, index_name: str = "") -> str:
    rows = [[idx, *row] for idx, row in zip(frame.index, frame.to_numpy(), strict=True)]
    return markdown_table([index_name, *map(str, frame.columns)], rows)


def mean_ranks(scores: pd.DataFrame, higher_is_better: bool) -> pd.Series:
    """Mean over rows (datasets) of each column's (model's) rank; 1 is best.

    Ties share the average rank; a dataset where a model has no score is left
    out of that model's mean.
    """
    ranks = scores.rank(axis=1, ascending=not higher_is_better, method="average")
    return ranks.mean(axis=0)


def fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    return f"{value:.{digits}f}"


def fmt_sig(value: float, sig: int = 3) -> str:
    """Format with ``sig`` significant figures, no scientific notation below 1e6."""
    if value is None or not np.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    magnitude = int(np.floor(np.log10(abs(value))))
    decimals = max(sig - 1 - magnitude, 0)
    return f"{value:,.{decimals}f}"


def parse_value(text: str):
    """``"0.003"`` -> 0.003, ``"standard"`` -> ``"standard"``."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_params(spec: str) -> dict:
    """``"d_token=40,dropout=0.0"`` -> ``{"d_token": 40, "dropout": 0.0}``."""
    pairs = (item.split("=", 1) for item in spec.split(",") if item)
    return {key: parse_value(value) for key, value in pairs}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n")
    print(f"wrote {path.relative_to(REPO)}", flush=True)


def matplotlib_pyplot():
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
