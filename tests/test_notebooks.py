"""The notebooks in notebooks/ run top to bottom (small settings: SK_TABATTN_FAST=1).

Each notebook reads SK_TABATTN_FAST in its "parameters" cell and shrinks its
rows and epochs; its own ``assert`` cells check what it claims. Outputs are not
stored in the repository, so the files stay small and diff cleanly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
NAMES = ["01_quickstart.ipynb", "02_tuning.ipynb", "03_explain.ipynb"]


def execute(name: str, cwd: Path):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()  # raises CellExecutionError, with the cell, on any error
    return notebook


def outputs(notebook, kind: str) -> list:
    return [
        out.get("data", {}).get(kind) or out.get("text")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if kind in out.get("data", {}) or (kind == "stream" and "text" in out)
    ]


def test_every_notebook_is_tested():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setenv("SK_TABATTN_FAST", "1")  # the kernel inherits it
    # One torch thread, as in the rest of the suite (see the root conftest.py).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, fast, tmp_path):
    notebook = execute(name, tmp_path)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells)  # every cell ran
    params = code_cells[0]
    assert "parameters" in params.metadata.get("tags", [])
    assert "SK_TABATTN_FAST" in params.source
    if name == "01_quickstart.ipynb":
        tagged = [c for c in code_cells if "html-repr" in c.metadata.get("tags", [])]
        (html_cell,) = tagged
        html = html_cell.outputs[0]["data"]["text/html"]
        assert "AttentionCNNClassifier" in html
    else:
        # Plots were drawn: matplotlib figures come back as PNG images.
        assert outputs(notebook, "image/png")
    assert list(tmp_path.iterdir()) == []  # notebooks write to temporary folders
