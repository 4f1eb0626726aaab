"""The one-off raise of glibc's malloc thresholds before fit and predict."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sk_tabattn import AttentionCNNClassifier, _allocator
from sk_tabattn import _base as base_module

# A process whose largest freed block was 2 MiB (thresholds 2 and 4 MiB) runs
# ten "steps" that each malloc, touch and free 16 MiB: unless the thresholds
# were raised, every step's memory is trimmed back to the OS and re-faulted.
# The module is loaded from its file, so no other import allocates between.
_STEPS = """
import ctypes, importlib.util, resource, sys
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])
allocator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(allocator)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(2 << 20))
if sys.argv[2] == "raise":
    allocator.raise_malloc_thresholds()

def step():
    blocks = [libc.malloc(1 << 20) for _ in range(16)]
    for block in blocks:
        ctypes.memset(block, 1, 1 << 20)
    for block in reversed(blocks):
        libc.free(block)

step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults_of_steps(mode: str) -> int:
    # Without the user's malloc settings, which would fix the thresholds.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MALLOC_") and key != "GLIBC_TUNABLES"
    }
    result = subprocess.run(
        [sys.executable, "-c", _STEPS, _allocator.__file__, mode],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return int(result.stdout)


@pytest.mark.skipif(not _allocator.is_glibc(), reason="glibc's malloc only")
def test_raised_thresholds_stop_the_steps_refaulting():
    plain = _page_faults_of_steps("keep")
    raised = _page_faults_of_steps("raise")
    # 10 steps x 16 MiB of 4 KiB pages is 40,960 faults when trimmed each time.
    assert plain > 20_000
    assert raised < plain / 20


def test_fit_and_predict_raise_the_thresholds(monkeypatch, tiny_params):
    calls = []
    monkeypatch.setattr(base_module, "raise_malloc_thresholds", lambda: calls.append(1))
    X = [[0.0, 1.0], [1.0, 0.0]] * 10
    y = [0, 1] * 10
    clf = AttentionCNNClassifier(**{**tiny_params, "max_epochs": 1}).fit(X, y)
    n_fit = len(calls)
    clf.predict(X)
    assert n_fit >= 1
    assert len(calls) > n_fit


def test_raise_runs_once_a_process(monkeypatch):
    monkeypatch.setattr(_allocator, "_done", False)
    loads = []
    monkeypatch.setattr(_allocator, "is_glibc", lambda: loads.append(1) or False)
    _allocator.raise_malloc_thresholds()
    _allocator.raise_malloc_thresholds()
    assert loads == [1]
