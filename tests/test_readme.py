"""Run the README's Python code blocks, as a user would paste them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sk_tabattn import AttentionCNNClassifier, AttentionCNNRegressor

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_code_blocks():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_code_block_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files (model.joblib)
    exec(compile(BLOCKS[index], f"README.md block {index}", "exec"), {})


def _defaults_table() -> list[tuple[list[str], tuple]]:
    """The README's "Defaults, and why" rows: (parameter names, their defaults)."""
    section = README.read_text().split("## Defaults, and why", 1)[1].split("\n## ")[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = re.findall(r"`(\w+)`", cells[0])
        rows.append((names, ast.literal_eval(f"({cells[1].replace('`', '')},)")))
    return rows


def test_the_defaults_table_states_the_estimators_defaults():
    rows = _defaults_table()
    assert len(rows) >= 10
    params = {
        **AttentionCNNRegressor().get_params(),
        **AttentionCNNClassifier().get_params(),
    }
    for names, values in rows:
        assert len(names) == len(values), names
        for name, value in zip(names, values, strict=True):
            assert name in params, f"README names no parameter {name!r}"
            assert params[name] == value, f"README says {name}={value!r}"
