"""Speed benchmark: framework overhead, FLOP/s, predict throughput, memory, scaling.

    python benchmarks/speed.py                    # everything (~40 min on 2 cores)
    python benchmarks/speed.py --only overhead flops --threads 1   # per core
    python benchmarks/speed.py --only overhead flops predict memory default_fit
    python benchmarks/speed.py --quick            # smoke run, small sizes

Every ratio compares timings taken in the same process, interleaved, so that
the load of a shared machine affects both sides alike. Writes
``results/speed.md``, ``results/speed.json`` and ``results/scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from common import (
    RESULTS,
    add_threads_argument,
    fmt,
    fmt_sig,
    load_average,
    machine_info,
    machine_markdown,
    markdown_table,
    matplotlib_pyplot,
    parse_params,
    set_threads,
    write,
)
from sklearn.datasets import make_classification
from torch.utils.flop_counter import FlopCounterMode

from sk_tabattn import AttentionCNNClassifier
from sk_tabattn._base import predict_chunk_rows
from sk_tabattn.data import TabularDataset
from sk_tabattn.nn import AttentionCNN

ATTENTION_TYPES = ["none", "self", "multihead", "se", "mha", "row"]
PARTS = [
    "overhead",
    "flops",
    "parallel_fits",
    "predict",
    "memory",
    "default_fit",
    "scaling",
]


def make_table(n_rows: int, n_features: int, seed: int = 0):
    X, y = make_classification(
        n_samples=n_rows,
        n_features=n_features,
        n_informative=max(2, n_features // 2),
        n_redundant=0,
        random_state=seed,
    )
    return X, y


def epoch_durations(history) -> list[float]:
    """skorch's per-epoch wall time, dropping the first (warm-up) epoch."""
    durs = [float(d) for d in history[:, "dur"]]
    return durs[1:] if len(durs) > 1 else durs


# -- the three training loops of the overhead comparison -------------------------
def fit_ours(X, y, epochs: int, seed: int = 0, **params) -> AttentionCNNClassifier:
    est = AttentionCNNClassifier(
        max_epochs=epochs, early_stopping=False, random_state=seed, **params
    )
    return est.fit(X, y)


def module_setup(X, y, epochs: int, params: dict):
    """Fit ours briefly; return it, its module's kwargs, its encoded data and batch."""
    est = fit_ours(X, y, epochs, **params)
    module_kwargs = est.net_.get_params_for("module")
    ds = TabularDataset(est.encoder_.encode(X), y.astype(np.int64))
    return est, module_kwargs, ds, est.net_.batch_size


def hand_loop(
    module_kwargs,
    ds: TabularDataset,
    batch_size,
    lr,
    weight_decay,
    epochs,
    seed=0,
    make_module=AttentionCNN,
):
    """The minimal PyTorch loop: one randperm per epoch, index_select batches.

    Trains ``make_module(**module_kwargs)``; returns the epochs' seconds, the
    first (warm-up) epoch dropped.
    """
    torch.manual_seed(seed)
    module = make_module(**module_kwargs)
    module.train()
    opt = torch.optim.AdamW(
        module.parameters(), lr=lr, weight_decay=weight_decay, fused=True
    )
    x_num, x_cat, y = ds.inputs["x_num"], ds.inputs["x_cat"], ds.y
    n = len(y)
    durations = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(n)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            opt.zero_grad(set_to_none=True)
            out = module(x_num.index_select(0, idx), x_cat.index_select(0, idx))
            loss = F.cross_entropy(out, y.index_select(0, idx))
            loss.backward()
            opt.step()
        durations.append(time.perf_counter() - start)
    return durations[1:]


def skorch_default(
    module_kwargs, ds: TabularDataset, batch_size, lr, weight_decay, epochs
):
    """The same module in a plain skorch net with its default DataLoader path."""
    from skorch import NeuralNetClassifier

    torch.manual_seed(0)
    net = NeuralNetClassifier(
        AttentionCNN,
        **{f"module__{k}": v for k, v in module_kwargs.items()},
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        optimizer__weight_decay=weight_decay,
        optimizer__fused=True,
        lr=lr,
        batch_size=batch_size,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    X = {"x_num": ds.inputs["x_num"].numpy(), "x_cat": ds.inputs["x_cat"].numpy()}
    net.fit(X, ds.y.numpy())
    return epoch_durations(net.history)


def matmul_flops(n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a float32 ``n × n`` matrix multiply (median of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / float(np.median(times))


def overhead(args, out: dict) -> dict:
    n_rows, n_features = (2000, 20) if args.quick else (20_000, 20)
    X, y = make_table(n_rows, n_features)
    epochs = args.epochs
    # warm-up; gives the module kwargs and batch size
    est, module_kwargs, ds, bs = module_setup(X, y, 2, args.params)
    lr, wd = est.lr, est.weight_decay
    times: dict[str, list[float]] = {"ours": [], "hand": [], "skorch": []}
    if not args.no_compile:
        times["ours_compiled"] = []
    runs = {
        "hand": lambda r: hand_loop(module_kwargs, ds, bs, lr, wd, epochs, seed=r),
        "ours": lambda r: epoch_durations(
            fit_ours(X, y, epochs, seed=r, **args.params).history_
        ),
        "skorch": lambda r: skorch_default(module_kwargs, ds, bs, lr, wd, epochs),
        # The first epoch, which holds the compilation, is dropped.
        "ours_compiled": lambda r: epoch_durations(
            fit_ours(X, y, epochs, seed=r, **{**args.params, "compile": True}).history_
        ),
    }
    mm = []
    round_ratios: dict[str, list[float]] = {k: [] for k in times if k != "hand"}
    for r in range(args.rounds):
        mm.append(matmul_flops())
        # The order rotates from round to round, so that no loop always runs
        # first (just after the matmul) or last.
        order = list(times)[r % len(times) :] + list(times)[: r % len(times)]
        this_round = {k: runs[k](r) for k in order}
        for k, durations in this_round.items():
            times[k] += durations
        for k in round_ratios:
            round_ratios[k].append(
                float(np.median(this_round[k]) / np.median(this_round["hand"]))
            )
        print(
            f"   round {r}: "
            + " ".join(f"{k} {np.median(v):.3f}s" for k, v in times.items())
            + f" (load {load_average():.1f})",
            flush=True,
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    res = {
        "table": f"{n_rows:,} × {n_features} (make_classification, float64 ndarray)",
        "batch_size": bs,
        "steps_per_epoch": math.ceil(n_rows / bs),
        "epochs_timed": {k: len(v) for k, v in times.items()},
        "epoch_s": med,
        "epoch_s_all": times,
        "ours_over_hand": med["ours"] / med["hand"],
        "round_ratios_to_hand": round_ratios,
        "skorch_over_hand": med["skorch"] / med["hand"],
        "skorch_over_ours": med["skorch"] / med["ours"],
        **(
            {"compiled_over_hand": med["ours_compiled"] / med["hand"]}
            if "ours_compiled" in med
            else {}
        ),
        "matmul_flops_runs": mm,
        "module_kwargs": {
            k: v for k, v in module_kwargs.items() if k != "cardinalities"
        },
        "n_rows": n_rows,
        "rounds": args.rounds,
        "epochs_per_run": epochs,
    }
    out["overhead"] = res
    out["_module"] = (module_kwargs, ds, bs)
    return res


def flops(args, out: dict) -> dict:
    if "_module" not in out:
        overhead(args, out)
    module_kwargs, ds, bs = out["_module"]
    step_flops, by_module = count_step_flops(module_kwargs, ds, bs)
    ov = out["overhead"]
    n_rows = ov["n_rows"]
    epoch_flops = step_flops / bs * n_rows
    mm_runs = ov["matmul_flops_runs"] + [matmul_flops() for _ in range(2)]
    mm = float(np.median(mm_runs))
    achieved = {k: epoch_flops / v for k, v in ov["epoch_s"].items()}
    res = {
        "batch_size": bs,
        "flops_per_step": step_flops,
        "flops_per_row": step_flops / bs,
        "flops_by_module": by_module,
        "matmul_flops": mm,
        "matmul_flops_runs": mm_runs,
        "achieved_flops": achieved,
        "fraction_of_matmul": {k: v / mm for k, v in achieved.items()},
    }
    out["flops"] = res
    return res


def count_step_flops(module_kwargs, ds: TabularDataset, bs: int):
    """FLOPs of one training step (forward and backward) on ``bs`` rows of ``ds``.

    Returns the total and the FLOPs by part of the network (``flops_by_part``).
    """
    torch.manual_seed(0)
    module = AttentionCNN(**module_kwargs).train()
    idx = torch.randperm(len(ds))[:bs]
    (x_num, x_cat), y = (ds.inputs["x_num"][idx], ds.inputs["x_cat"][idx]), ds.y[idx]
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(module(x_num, x_cat), y).backward()
    return counter.get_total_flops(), flops_by_part(counter.get_flop_counts())


def _fit_with_threads(X, y, epochs: int, seed: int, threads: int, params: dict):
    """``fit_ours`` on ``threads`` torch threads: the threads, the epochs' seconds.

    The first and the last epoch are dropped: the first warms up, and the last
    of one of several fits started together may run after the others ended.
    """
    torch.set_num_threads(threads)
    est = fit_ours(X, y, epochs, seed=seed, **params)
    return torch.get_num_threads(), epoch_durations(est.history_)[:-1]


def parallel_fits(args, out: dict) -> dict:
    """One fit on every core against two fits at a time on one core's share each.

    The second is how ``cross_validate`` or ``GridSearchCV`` with ``n_jobs=2``
    run our estimator on these machines (joblib's workers get ``cores //
    n_jobs`` threads). Both run in the same rounds, alternating which goes
    first; the machine's achieved FLOP/s is the sum over the fits running at
    once, against a matmul on all cores.
    """
    from joblib import Parallel, delayed

    n_rows, n_features = (2000, 20) if args.quick else (20_000, 20)
    X, y = make_table(n_rows, n_features)
    epochs, n_jobs = args.epochs + 1, 2  # + 1: the last epoch is dropped too
    cores = os.cpu_count() or 1
    worker_threads = max(1, cores // n_jobs)
    _, module_kwargs, ds, bs = module_setup(X, y, 1, args.params)
    step_flops, _ = count_step_flops(module_kwargs, ds, bs)
    epoch_flops = step_flops / bs * n_rows
    main_threads = torch.get_num_threads()
    times: dict[str, list[float]] = {"one": [], "parallel": []}
    reported: dict[str, set[int]] = {"one": set(), "parallel": set()}
    mm = []
    with Parallel(n_jobs=n_jobs) as parallel:
        # warm the workers up (imports, first fit)
        parallel(
            delayed(_fit_with_threads)(
                X[:500], y[:500], 3, s, worker_threads, args.params
            )
            for s in range(n_jobs)
        )
        for r in range(args.rounds):
            torch.set_num_threads(cores)
            mm.append(matmul_flops())
            for which in ("one", "parallel") if r % 2 == 0 else ("parallel", "one"):
                if which == "one":
                    threads, durations = _fit_with_threads(
                        X, y, epochs, r, cores, args.params
                    )
                    reported["one"].add(threads)
                    times["one"] += durations
                    continue
                for threads, durations in parallel(
                    delayed(_fit_with_threads)(
                        X, y, epochs, n_jobs * r + i, worker_threads, args.params
                    )
                    for i in range(n_jobs)
                ):
                    reported["parallel"].add(threads)
                    times["parallel"] += durations
            print(
                f"   round {r}: "
                + " ".join(f"{k} {np.median(v):.3f}s" for k, v in times.items())
                + f" (load {load_average():.1f})",
                flush=True,
            )
    torch.set_num_threads(main_threads)
    med = {k: float(np.median(v)) for k, v in times.items()}
    mm_median = float(np.median(mm))
    # FLOP/s of the machine: one fit, or n_jobs fits each doing an epoch at once.
    machine = {
        "one": epoch_flops / med["one"],
        "parallel": n_jobs * epoch_flops / med["parallel"],
    }
    res = {
        "table": f"{n_rows:,} × {n_features} (make_classification, float64 ndarray)",
        "batch_size": bs,
        "cores": cores,
        "n_jobs": n_jobs,
        "threads": {"one": cores, "parallel": worker_threads},
        "threads_reported": {k: sorted(v) for k, v in reported.items()},
        "epoch_s": med,
        "epoch_s_all": times,
        "flops_per_step": step_flops,
        "matmul_flops": mm_median,
        "matmul_flops_runs": mm,
        "machine_flops": machine,
        "fraction_of_matmul": {k: v / mm_median for k, v in machine.items()},
        "parallel_over_one": machine["parallel"] / machine["one"],
        "rounds": args.rounds,
        "epochs_per_run": epochs,
        "dropped": "first and last dropped, so that every timed epoch of a fit "
        "ran while the other fit was running too",
    }
    out["parallel_fits"] = res
    return res


def flops_by_part(counts: dict) -> dict[str, int]:
    """FLOPs per part of the network: tokenizer, each conv/attention block, head.

    FlopCounterMode attributes FLOPs to modules called through ``__call__``;
    a part's FLOPs are those of its outermost recorded submodules. What no
    submodule owns (e.g. attention matmuls done in a block's own code) is
    reported as "unattributed".
    """
    totals = {name: int(sum(ops.values())) for name, ops in counts.items()}
    names = [n for n in totals if n.startswith("AttentionCNN.")]
    outermost = [n for n in names if not any(n.startswith(m + ".") for m in names)]
    parts: dict[str, int] = {}
    for name in outermost:
        rest = name.split(".")[1:]
        key = ".".join(
            rest[:4] if rest[0] == "branches" and len(rest) > 3 else rest[:3]
        )
        key = key if rest[0] == "branches" else rest[0]
        parts[key] = parts.get(key, 0) + totals[name]
    unattributed = totals.get("AttentionCNN", 0) - sum(parts.values())
    if unattributed:
        parts["unattributed (matmuls in a block's own code)"] = unattributed
    return parts


def predict(args, out: dict) -> dict:
    n_rows = 20_000 if args.quick else 200_000
    X_train, y_train = make_table(5000 if args.quick else 20_000, 20)
    est = fit_ours(X_train, y_train, 2, **args.params)
    X, _ = make_table(n_rows, 20, seed=1)
    est.predict_proba(X[:5000])  # warm-up
    res: dict = {"rows": n_rows, "columns": 20, "repeats": args.repeats}
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)])
    est_df = fit_ours(
        pd.DataFrame(X_train, columns=frame.columns), y_train, 2, **args.params
    )
    for label, model, data in (
        ("ndarray float64", est, X),
        ("DataFrame", est_df, frame),
    ):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.predict_proba(data)
            times.append(time.perf_counter() - start)
        res[f"rows_per_s ({label})"] = n_rows / float(np.median(times))
    # Where the time goes: encoding (in predict's chunks), and the network
    # alone on encoded tensors.
    bs = est.net_.iterator_valid__batch_size
    chunk = predict_chunk_rows(X.shape[1], bs)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for s in range(0, n_rows, chunk):
            est.encoder_.encode(X[s : s + chunk])
        times.append(time.perf_counter() - start)
    res[f"encode_rows_per_s (chunks of {chunk:,} rows, as in predict)"] = (
        n_rows / float(np.median(times))
    )
    table = est.encoder_.encode(X)
    module = est.net_.module_.eval()
    x_num, x_cat = torch.as_tensor(table.x_num), torch.as_tensor(table.x_cat)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with torch.inference_mode():
            for s in range(0, n_rows, bs):
                module(x_num[s : s + bs], x_cat[s : s + bs]).softmax(-1)
        times.append(time.perf_counter() - start)
    network_key = f"network_only_rows_per_s (batches of {bs}, inference_mode)"
    res[network_key] = n_rows / float(np.median(times))
    res["ceiling"] = predict_ceiling(module, x_num[:bs], x_cat[:bs])
    # Every attention type, ndarray input: what each block costs at inference.
    for attention in args.attention_types:
        model = fit_ours(X_train, y_train, 2, **{**args.params, "attention": attention})
        model.predict_proba(X[:5000])
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model.predict_proba(X)
            times.append(time.perf_counter() - start)
        key = f"rows_per_s (attention={attention!r})"
        res[key] = n_rows / float(np.median(times))
        print(f"   predict {attention}: {res[key]:.0f} rows/s", flush=True)
    out["predict"] = res
    return res


def predict_ceiling(module, x_num: torch.Tensor, x_cat: torch.Tensor) -> dict:
    """Rows a second ``module`` would predict, every FLOP at the matmul's rate.

    FLOPs of one inference forward on the batch (``FlopCounterMode``: matmuls
    and convolutions; norms, softmax and activations count none), per row,
    against a float32 matrix multiply's FLOP/s measured here (median of 3).
    The ratio tells how far a machine's predict throughput can go with this
    network, whatever the data path.
    """
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module(x_num, x_cat)
    flops_per_row = counter.get_total_flops() / len(x_num)
    mm_runs = [matmul_flops() for _ in range(3)]
    mm = float(np.median(mm_runs))
    return {
        "flops_per_row": flops_per_row,
        "matmul_flops": mm,
        "matmul_flops_runs": mm_runs,
        "rows_per_s": mm / flops_per_row,
    }


_MEMORY_CHILD = r"""
import json, resource, sys, time
import numpy as np, joblib

def rss_mb(field="VmRSS"):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")

est = joblib.load(sys.argv[1])
n_rows, n_cols, dtype = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
est.predict_proba(np.zeros((1000, n_cols), dtype=dtype))  # warm-up allocations
before_x = rss_mb()
X = np.random.default_rng(0).standard_normal((n_rows, n_cols), dtype=np.float32)
X = X.astype(dtype, copy=False)
after_x = rss_mb()
try:  # reset the peak-RSS counter (Linux >= 4.0), else fall back to ru_maxrss
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    reset = True
except OSError:
    reset = False
start = time.perf_counter()
proba = est.predict_proba(X)
seconds = time.perf_counter() - start
if reset:
    peak = rss_mb("VmHWM")
else:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"input_mb": X.nbytes / 2**20, "output_mb": proba.nbytes / 2**20,
                  "rss_before_input_mb": before_x, "rss_with_input_mb": after_x,
                  "peak_rss_during_predict_mb": peak, "peak_reset": reset,
                  "predict_s": seconds}))
"""


def memory(args, out: dict) -> dict:
    import joblib

    n_rows, n_cols = (100_000, 50) if args.quick else (1_000_000, 50)
    X, y = make_table(5000, n_cols)
    est = fit_ours(X, y, 2, **args.params)
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(est, path)
        for dtype in ("float32", "float64"):
            proc = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    _MEMORY_CHILD,
                    str(path),
                    str(n_rows),
                    str(n_cols),
                    dtype,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["extra_over_input_mb"] = (
                r["peak_rss_during_predict_mb"] - r["rss_with_input_mb"]
            )
            r["peak_over_baseline_div_input"] = (
                r["peak_rss_during_predict_mb"] - r["rss_before_input_mb"]
            ) / r["input_mb"]
            res[dtype] = r
            print(f"   memory {dtype}: {r}", flush=True)
    out["memory"] = {"rows": n_rows, "columns": n_cols, **res}
    return out["memory"]


def default_fit(args, out: dict) -> dict:
    n_rows = 2000 if args.quick else 20_000
    X, y = make_table(n_rows, 20)
    fits = []
    # Eager fits first, then compiled ones: the first compiled fit pays the
    # compilation (unless an earlier section of this process compiled the same
    # shapes), the next ones reuse it.
    runs = [(seed, False) for seed in range(args.default_fit_repeats)]
    if not args.no_compile:
        runs += [(seed, True) for seed in range(args.default_fit_repeats)]
    for seed, compiled in runs:
        start = time.perf_counter()
        params = {**args.params, "random_state": seed, "compile": compiled}
        est = AttentionCNNClassifier(**params).fit(X, y)
        seconds = time.perf_counter() - start
        history = est.history_
        best = [h["epoch"] for h in history if h.get("valid_loss_best")]
        fits.append(
            {
                "seed": seed,
                "compile": compiled,
                "first_epoch_s": float(history[0, "dur"]),
                "seconds": seconds,
                "epochs": len(history),
                "best_epoch": best[-1] if best else None,
                "median_epoch_s": float(np.median(epoch_durations(history))),
                "batch_size": est.net_.batch_size,
                "load1": load_average(),
            }
        )
        print(f"   default fit {fits[-1]}", flush=True)
    out["default_fit"] = {"rows": n_rows, "columns": 20, "fits": fits}
    return out["default_fit"]


def scaling(args, out: dict) -> dict:
    if args.quick:
        rows_grid, feat_grid, feat_rows = [500, 2000], [10, 50], 1000
    else:
        rows_grid, feat_grid, feat_rows = (
            [1000, 3000, 10_000, 30_000, 100_000],
            [
                10,
                30,
                100,
                300,
                500,
            ],
            5000,
        )
    results = []
    sweeps = [("rows", n, 20) for n in rows_grid] + [
        ("features", feat_rows, f) for f in feat_grid
    ]
    for attention in args.attention_types:
        for sweep, n_rows, n_features in sweeps:
            X, y = make_table(n_rows, n_features)
            start = time.perf_counter()
            est = fit_ours(X, y, 2, **{**args.params, "attention": attention})
            total = time.perf_counter() - start
            epoch = float(np.median(epoch_durations(est.history_)))
            est.predict_proba(X[:256])  # warm-up
            start = time.perf_counter()
            est.predict_proba(X)
            predict_rows_s = n_rows / (time.perf_counter() - start)
            results.append(
                {
                    "attention": attention,
                    "sweep": sweep,
                    "rows": n_rows,
                    "features": n_features,
                    "epoch_s": epoch,
                    "fit_2_epochs_s": total,
                    "predict_rows_s": predict_rows_s,
                    "batch_size": est.net_.batch_size,
                    "load1": load_average(),
                }
            )
            print(f"   scaling {results[-1]}", flush=True)
            pd.DataFrame(results).to_csv(
                args.out_dir / f"scaling{args.suffix}.csv", index=False
            )
    out["scaling"] = {"points": results}
    plot_scaling(
        pd.DataFrame(results), args.out_dir / f"scaling{args.suffix}.png", feat_rows
    )
    return results


def plot_scaling(frame: pd.DataFrame, path: Path, feat_rows: int) -> None:
    plt = matplotlib_pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, (sweep, x, title) in zip(
        axes,
        [
            ("rows", "rows", "20 features: seconds per epoch vs rows"),
            (
                "features",
                "features",
                f"{feat_rows:,} rows: seconds per epoch vs features",
            ),
        ],
        strict=True,
    ):
        sub = frame[frame.sweep == sweep]
        for attention, group in sub.groupby("attention", sort=False):
            ax.plot(group[x], group.epoch_s, marker="o", label=attention)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel("seconds per epoch")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(title="attention")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", flush=True)


# -- report ---------------------------------------------------------------------
def measured(res: dict) -> str:
    """One line saying when, how and under what load a part was measured."""
    m = res.get("measured")
    if not m:
        return ""
    return (
        f"*Measured {m['date']} by `{m['command']}` at commit {m['commit']}, "
        f"{m['torch threads']} torch thread(s), load average (1 min) "
        f"{m['load1 before / after']} before / after, {m['seconds']} s."
        + (f" {m['note']}" if m.get("note") else "")
        + "*\n"
    )


def ceiling_markdown(pr: dict) -> str:
    """What the predict section's ceiling says, in one paragraph."""
    ce = pr["ceiling"]
    network = next(v for k, v in pr.items() if k.startswith("network_only"))
    runs = ", ".join(f"{r / 1e9:.1f}" for r in ce["matmul_flops_runs"])
    return (
        f"The network does {ce['flops_per_row']:,.0f} FLOPs a predicted row "
        "(`FlopCounterMode`, one batch; norms, softmax and activations count "
        f"none). At this section's float32 matmul rate ({ce['matmul_flops'] / 1e9:.1f} "
        f"GFLOP/s, runs {runs}) "
        f"that is at most **{fmt_sig(ce['rows_per_s'])} rows/s**, were every FLOP "
        "to run at the matmul's rate. `predict_proba` reached "
        f"{pr['rows_per_s (ndarray float64)'] / ce['rows_per_s']:.1%} of it, the "
        f"network alone {network / ce['rows_per_s']:.1%}; 100,000 rows/s would take "
        f"{1e5 / ce['rows_per_s']:.1%}."
    )


def report(out: dict, args, info) -> str:
    parts = [
        "# Speed benchmark",
        "",
        "Each section states the command, commit, threads and machine load it was "
        "measured with; ratios within a section come from one process.",
        "",
        "## Machine",
        "",
        machine_markdown(info),
        "",
    ]
    if args.params:
        given = ", ".join(f"{k}={v!r}" for k, v in args.params.items())
        parts += [
            f"**Not the defaults**: every fit of our estimator here ran with {given} "
            "(`--params`), and the hand loop and skorch trained the same module.",
            "",
        ]
    if "overhead" in out:
        ov = out["overhead"]
        e = ov["epoch_s"]
        parts += [
            "## Framework overhead (seconds per training epoch)",
            "",
            measured(out["overhead"]),
            f"Table {ov['table']}; batch size {ov['batch_size']} "
            f"({ov['steps_per_epoch']} steps per epoch); no validation split "
            f"(`early_stopping=False`) so that all loops do the same work; "
            f"{ov['rounds']} interleaved rounds of {ov['epochs_per_run']} epochs "
            "(the order of the loops rotating from round to round), the first "
            "epoch of each run dropped; medians.",
            "",
            markdown_table(
                ["training loop", "seconds per epoch", "ratio to hand-written loop"],
                [
                    [
                        "hand-written PyTorch loop (randperm + index_select)",
                        fmt(e["hand"]),
                        "1.00",
                    ],
                    [
                        "**sk_tabattn** `AttentionCNNClassifier.fit`",
                        fmt(e["ours"]),
                        f"**{ov['ours_over_hand']:.2f}** (target ≤ 1.15)",
                    ],
                    [
                        "skorch default DataLoader path (dict input)",
                        fmt(e["skorch"]),
                        f"{ov['skorch_over_hand']:.2f}",
                    ],
                ]
                + (
                    [
                        [
                            "sk_tabattn with `compile=True` (first epoch, which "
                            "compiles, dropped)",
                            fmt(e["ours_compiled"]),
                            f"{ov['compiled_over_hand']:.2f}",
                        ]
                    ]
                    if "ours_compiled" in e
                    else []
                ),
            ),
            "",
            f"skorch's default path takes **{ov['skorch_over_ours']:.2f}×** our "
            "epoch time.",
            "",
        ]
        if "round_ratios_to_hand" in ov:  # runs before this column existed lack it
            parts += [
                "Each round's ratio to the hand-written loop (medians of that "
                "round's epochs), in round order: "
                + "; ".join(
                    f"{name} "
                    + ", ".join(f"{x:.2f}" for x in ratios)
                    + f" (median {np.median(ratios):.2f})"
                    for name, ratios in ov["round_ratios_to_hand"].items()
                )
                + ".",
                "",
            ]
    if "flops" in out:
        fl = out["flops"]
        ach = fl["achieved_flops"]
        frac = fl["fraction_of_matmul"]
        parts += [
            "## Achieved FLOP/s",
            "",
            measured(out["flops"]),
            "`FlopCounterMode` over one training step (forward + backward) of the "
            f"default model at batch size {fl['batch_size']}: "
            f"**{fl['flops_per_step'] / 1e9:.3f} "
            f"GFLOP** ({fl['flops_per_row'] / 1e6:.2f} MFLOP per row; matmul, conv and "
            "attention FLOPs; the optimizer step and element-wise ops are not "
            "counted). "
            f"A float32 2048×2048 `torch.mm` in the same process: **"
            f"{fl['matmul_flops'] / 1e9:.1f} GFLOP/s** (median of "
            f"{len(fl['matmul_flops_runs'])} runs spread over the benchmark: "
            + ", ".join(f"{v / 1e9:.0f}" for v in fl["matmul_flops_runs"])
            + ").",
            "",
            markdown_table(
                ["training loop", "achieved GFLOP/s", "fraction of matmul FLOP/s"],
                [
                    [
                        {"ours_compiled": "ours, `compile=True`"}.get(k, k),
                        f"{ach[k] / 1e9:.2f}",
                        f"**{100 * frac[k]:.1f}%**"
                        if k == "ours"
                        else f"{100 * frac[k]:.1f}%",
                    ]
                    for k in ("hand", "ours", "skorch", "ours_compiled")
                    if k in ach
                ],
            ),
            "",
            "Target: ≥ 25% with the default model. FLOPs per training step by module:",
            "",
            markdown_table(
                ["module", "MFLOP per step", "share"],
                [
                    [k, f"{v / 1e6:.1f}", f"{100 * v / fl['flops_per_step']:.1f}%"]
                    for k, v in sorted(
                        fl["flops_by_module"].items(), key=lambda kv: -kv[1]
                    )
                ],
            ),
            "",
        ]
    if "parallel_fits" in out:
        pf = out["parallel_fits"]
        e, th, fr, mf = (
            pf["epoch_s"],
            pf["threads"],
            pf["fraction_of_matmul"],
            pf["machine_flops"],
        )
        parts += [
            "## One fit on every core, or two fits at a time",
            "",
            measured(out["parallel_fits"]),
            f"`AttentionCNNClassifier.fit` on {pf['table']}, batch size "
            f"{pf['batch_size']}, no validation split: one fit on {th['one']} torch "
            f"threads (the library's default on {pf['cores']} cores), against "
            f"{pf['n_jobs']} fits at a time in joblib's workers on {th['parallel']} "
            f"thread(s) each, as `cross_validate` or `GridSearchCV` with "
            f"`n_jobs={pf['n_jobs']}` run them (`torch.get_num_threads()` in the "
            "fits: "
            + "; ".join(
                f"{k} {', '.join(map(str, v))}"
                for k, v in pf["threads_reported"].items()
            )
            + f"). {pf['rounds']} rounds of "
            f"{pf['epochs_per_run']} epochs ({pf['dropped']}), "
            "alternating which runs first; medians. The machine's FLOP/s is the "
            "sum over the fits running at "
            f"once, against a float32 2048×2048 `torch.mm` on {pf['cores']} threads "
            f"in the same process: {pf['matmul_flops'] / 1e9:.1f} GFLOP/s (runs: "
            + ", ".join(f"{v / 1e9:.0f}" for v in pf["matmul_flops_runs"])
            + ").",
            "",
            markdown_table(
                [
                    "how",
                    "threads per fit",
                    "seconds per epoch",
                    "machine GFLOP/s",
                    "fraction of matmul FLOP/s",
                ],
                [
                    [
                        "one fit",
                        th["one"],
                        fmt(e["one"]),
                        f"{mf['one'] / 1e9:.2f}",
                        f"{100 * fr['one']:.1f}%",
                    ],
                    [
                        f"{pf['n_jobs']} fits at a time",
                        th["parallel"],
                        fmt(e["parallel"]),
                        f"{mf['parallel'] / 1e9:.2f}",
                        f"{100 * fr['parallel']:.1f}%",
                    ],
                ],
            ),
            "",
            f"Two fits at a time train **{pf['parallel_over_one']:.2f}×** the rows "
            "per second of one fit on every core.",
            "",
        ]
    if "predict" in out:
        pr = out["predict"]
        parts += [
            "## Predict throughput",
            "",
            measured(out["predict"]),
            f"`predict_proba` on {pr['rows']:,} rows × {pr['columns']} columns, model "
            f"fitted on 20,000 rows; median of {pr['repeats']}.",
            "",
            markdown_table(
                ["what", "rows per second"],
                [
                    [k, fmt_sig(v)]
                    for k, v in pr.items()
                    if k not in ("rows", "columns", "repeats", "measured", "ceiling")
                ],
            ),
            "",
            "Target: ≥ 100,000 rows/s.",
            "",
        ]
        if "ceiling" in pr:
            parts += [ceiling_markdown(pr), ""]
    if "memory" in out:
        me = out["memory"]
        rows = []
        for dtype in ("float32", "float64"):
            r = me[dtype]
            rows.append(
                [
                    dtype,
                    f"{r['input_mb']:.0f}",
                    f"{r['rss_before_input_mb']:.0f}",
                    f"{r['rss_with_input_mb']:.0f}",
                    f"{r['peak_rss_during_predict_mb']:.0f}",
                    f"{r['extra_over_input_mb']:.0f}",
                    f"{r['peak_over_baseline_div_input']:.2f}",
                    f"{r['predict_s']:.1f}",
                ]
            )
        parts += [
            "## Peak memory of predict",
            "",
            measured(out["memory"]),
            f"`predict_proba` on {me['rows']:,} × {me['columns']} in a fresh "
            "subprocess (model fitted on 5,000 rows, loaded with joblib, warmed up on "
            "1,000 rows). "
            "RSS from /proc/self/status; the peak counter is reset after the input is "
            "built, so the peak is that of predict alone.",
            "",
            markdown_table(
                [
                    "input dtype",
                    "input MB",
                    "RSS before input MB",
                    "RSS with input MB",
                    "peak RSS in predict MB",
                    "peak − RSS with input MB",
                    "(peak − RSS before input) / input",
                    "predict s",
                ],
                rows,
            ),
            "",
        ]
    if "default_fit" in out:
        df = out["default_fit"]
        parts += [
            "## A default fit",
            "",
            measured(out["default_fit"]),
            "`AttentionCNNClassifier(random_state=seed).fit(X, y)` on a "
            f"{df['rows']:,} × "
            f"{df['columns']} table (all defaults: early stopping, auto batch size), "
            "and the same with `compile=True` after the eager fits (the first "
            "compiled fit of a process compiles, unless an earlier section of the "
            "run compiled the same shapes; the next reuse it). Target: under 60 s.",
            "",
            markdown_table(
                [
                    "seed",
                    "compile",
                    "fit seconds",
                    "first epoch s",
                    "epochs",
                    "best epoch",
                    "median s/epoch",
                    "batch",
                    "load",
                ],
                [
                    [
                        f.get("seed", i),
                        "True" if f.get("compile") else "False",
                        f"{f['seconds']:.1f}",
                        fmt(f["first_epoch_s"]) if "first_epoch_s" in f else "",
                        f["epochs"],
                        f["best_epoch"],
                        f"{f['median_epoch_s']:.3f}",
                        f["batch_size"],
                        f"{f['load1']:.1f}",
                    ]
                    for i, f in enumerate(df["fits"])
                ],
            ),
            "",
        ]
    if "scaling" in out:
        sc = pd.DataFrame(out["scaling"]["points"])
        for sweep, col in (("rows", "rows"), ("features", "features")):
            sub = sc[sc.sweep == sweep]
            table = sub.pivot_table(index=col, columns="attention", values="epoch_s")
            table = table[list(dict.fromkeys(sc.attention))]
            fixed = "20 features" if sweep == "rows" else f"{sub.rows.iloc[0]:,} rows"
            parts += [
                f"## Seconds per epoch vs {sweep} ({fixed}, auto batch size)",
                "",
                markdown_table(
                    [col, *table.columns],
                    [
                        [f"{i:,}", *(fmt(v, 3) for v in r)]
                        for i, r in zip(table.index, table.to_numpy(), strict=True)
                    ],
                ),
                "",
            ]
        sub = sc[sc.sweep == "features"]
        fit = sub.pivot_table(
            index="features", columns="attention", values="fit_2_epochs_s"
        )
        fit = fit[list(dict.fromkeys(sc.attention))]
        parts += [
            f"Whole `fit` with `max_epochs=2` on {sub.rows.iloc[0]:,} rows, seconds: "
            "the part beyond two epochs is encoding and the `feature_importances_` "
            "computed at the end of `fit`.",
            "",
            markdown_table(
                ["features", *fit.columns],
                [
                    [f"{i:,}", *(fmt(v, 1) for v in r)]
                    for i, r in zip(fit.index, fit.to_numpy(), strict=True)
                ],
            ),
            "",
        ]
        if "predict_rows_s" in sub:  # runs before 2026-12-05 did not time it
            rate = sub.pivot_table(
                index="features", columns="attention", values="predict_rows_s"
            )
            rate = rate[list(dict.fromkeys(sc.attention))]
            parts += [
                f"`predict_proba` on the same {sub.rows.iloc[0]:,} rows, rows per "
                "second (one call after a warm-up):",
                "",
                markdown_table(
                    ["features", *rate.columns],
                    [
                        [f"{i:,}", *(f"{v:,.0f}" for v in r)]
                        for i, r in zip(rate.index, rate.to_numpy(), strict=True)
                    ],
                ),
                "",
            ]
        parts += [
            measured(out["scaling"]),
            f"![scaling](scaling{args.suffix}.png)",
            "",
        ]
    return "\n".join(parts)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per timed run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--default-fit-repeats", type=int, default=2)
    parser.add_argument("--attention-types", nargs="+", default=ATTENTION_TYPES)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--no-compile",
        action="store_true",
        help="leave out the compile=True runs of the overhead and default_fit sections",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="drop the parts of a previous run"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite speed.md from speed.json"
    )
    parser.add_argument(
        "--params",
        type=parse_params,
        default={},
        metavar="KEY=VALUE[,KEY=VALUE]",
        help="our estimator's parameters in every section (default: its defaults), "
        "e.g. d_token=48: what a model choice costs in speed",
    )
    parser.add_argument("--name", help="sub-folder of results/ to write to")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    args.suffix = f"_threads{args.threads}" if args.threads else ""
    args.out_dir = RESULTS / "quick" if args.quick else RESULTS
    if args.name:
        args.out_dir = args.out_dir / args.name
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.epochs, args.rounds, args.repeats, args.default_fit_repeats = 2, 1, 1, 1
    info = machine_info()
    out: dict = {}
    json_path = args.out_dir / f"speed{args.suffix}.json"
    if json_path.exists() and not args.fresh:  # keep the parts not re-run now
        previous = json.loads(json_path.read_text())
        out.update({k: v for k, v in previous.items() if k in PARTS})
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.report_only:
        info = json.loads(json_path.read_text()).get("machine", info)
        write(args.out_dir / f"speed{args.suffix}.md", report(out, args, info))
        return
    for part in PARTS:
        if part in args.only:
            print(f"== {part}", flush=True)
            start = time.perf_counter()
            load_before = load_average()
            globals()[part](args, out)
            seconds = time.perf_counter() - start
            print(f"   {part} took {seconds:.0f}s", flush=True)
            out[part]["measured"] = {
                "date": time.strftime("%Y-%m-%d %H:%M %Z"),
                "commit": info["sk_tabattn commit"],
                "torch threads": info["torch threads"],
                "load1 before / after": f"{load_before:.2f} / {load_average():.2f}",
                "seconds": round(seconds),
                "command": "python benchmarks/speed.py " + " ".join(sys.argv[1:]),
            }
            write(args.out_dir / f"speed{args.suffix}.md", report(out, args, info))
            public = {k: v for k, v in out.items() if not k.startswith("_")}
            write(
                args.out_dir / f"speed{args.suffix}.json",
                json.dumps({"machine": info, **public}, indent=1, default=str),
            )


if __name__ == "__main__":
    main()
