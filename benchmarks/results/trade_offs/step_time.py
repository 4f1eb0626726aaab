"""Training-step time and FLOP share of the default module and three ablations.

    python benchmarks/results/trade_offs/step_time.py

``speed.py``'s hand-written loop (one ``randperm`` per epoch, ``index_select``
batches of 512, fused AdamW) on its 20,000 x 20 table, 6 interleaved rounds of
3 epochs per module (the first epoch dropped), medians; the share is the
step's FLOPs (``FlopCounterMode``) per second over a 2048² float32 matmul's,
timed in the same process.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from speed import hand_loop, make_table, matmul_flops  # noqa: E402

from sk_tabattn import AttentionCNNClassifier  # noqa: E402
from sk_tabattn.data import TabularDataset  # noqa: E402
from sk_tabattn.nn import AttentionCNN  # noqa: E402

X, y = make_table(20_000, 20)
est = AttentionCNNClassifier(max_epochs=1, early_stopping=False, random_state=0)
est.fit(X, y)
kwargs = est.net_.get_params_for("module")
ds = TabularDataset(est.encoder_.encode(X), y.astype(np.int64))
BATCH = 512


def default(**kw) -> AttentionCNN:
    return AttentionCNN(**kw)


def no_conv_block_norm(**kw) -> AttentionCNN:
    module = AttentionCNN(**kw)
    for branch in module.branches:
        for conv in branch.convs:
            conv.norm = torch.nn.Identity()
    return module


def no_residual_dropout(**kw) -> AttentionCNN:
    module = AttentionCNN(**kw)
    for branch in module.branches:
        for block in [*branch.convs, *branch.attentions]:
            block.dropout.p = 0.0
    return module


def no_dropout(**kw) -> AttentionCNN:
    return AttentionCNN(**{**kw, "dropout": 0.0})


VARIANTS = [default, no_conv_block_norm, no_residual_dropout, no_dropout]


def step_flops(make) -> int:
    torch.manual_seed(0)
    module = make(**kwargs).train()
    idx = torch.randperm(len(ds))[:BATCH]
    x_num, x_cat = ds.inputs["x_num"][idx], ds.inputs["x_cat"][idx]
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(module(x_num, x_cat), ds.y[idx]).backward()
    return counter.get_total_flops()


def epoch_seconds(make) -> float:
    times = hand_loop(kwargs, ds, BATCH, 3e-3, 1e-4, 3, make_module=make)
    return float(np.median(times))


flops = {make.__name__: step_flops(make) for make in VARIANTS}
seconds: dict[str, list[float]] = {make.__name__: [] for make in VARIANTS}
mm = []
for r in range(6):
    mm.append(matmul_flops())
    for make in VARIANTS if r % 2 == 0 else VARIANTS[::-1]:
        seconds[make.__name__].append(epoch_seconds(make))
rate = float(np.median(mm))
base = float(np.median(seconds["default"]))
print(f"matmul {rate / 1e9:.0f} GFLOP/s")
for name, fl in flops.items():
    epoch = float(np.median(seconds[name]))
    share = fl / BATCH * len(ds) / epoch / rate
    print(f"{name:20s} {epoch:.3f} s/epoch ({epoch / base:.3f}x)  share {share:.1%}")
