"""Both notebooks run top to bottom in fast mode, without errors."""

import os

import nbformat
import pytest
from nbclient import NotebookClient
from helpers.commands import ROOT


pytestmark = pytest.mark.slow


def execute(name, parameters, cwd):
  """Runs notebooks/NAME with `parameters` overriding the defaults."""
  notebook = nbformat.read(os.path.join(ROOT, "notebooks", name), as_version=4)
  cells = [c for c in notebook.cells
           if "parameters" in c.get("metadata", {}).get("tags", [])]
  assert len(cells) == 1, "one cell tagged 'parameters'"
  cells[0].source += "\n" + "\n".join(
      f"{k} = {v!r}" for k, v in parameters.items())
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  NotebookClient(notebook, timeout=600, kernel_name="python3",
                 resources={"metadata": {"path": str(cwd)}}).execute()
  return notebook


def test_committed_notebooks_carry_no_stale_outputs():
  for name in os.listdir(os.path.join(ROOT, "notebooks")):
    if name.endswith(".ipynb"):
      notebook = nbformat.read(os.path.join(ROOT, "notebooks", name), 4)
      for cell in notebook.cells:
        if cell.cell_type == "code":
          assert not cell.outputs and cell.execution_count is None, name


def test_executed_copies_run_the_committed_code():
  """results/notebooks/ holds normal-mode runs of exactly the notebooks' code."""
  for name in ("mnist_compression.ipynb", "bls2017_paper.ipynb"):
    sources = []
    for folder in ("notebooks", os.path.join("results", "notebooks")):
      notebook = nbformat.read(os.path.join(ROOT, folder, name), 4)
      sources.append([c.source for c in notebook.cells
                      if c.cell_type == "code"])
      if folder != "notebooks":  # Executed: figures, and no cell errors.
        outputs = [o for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs]
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
        assert not any(o.output_type == "error" for o in outputs), name
        # The run's machine and versions: its last cell's output.
        last = [c for c in notebook.cells if c.cell_type == "code"][-1]
        machine = last.outputs[0]["data"]["text/plain"]
        assert "'cores'" in machine and "'tensorflow'" in machine, name
    assert sources[0] == sources[1], f"results/notebooks/{name} is stale"


def test_mnist_notebook(mnist_dir, tmp_path):  # noqa: F811
  notebook = execute("mnist_compression.ipynb",
                     {"FAST": True, "MNIST_DIR": mnist_dir}, tmp_path)
  for figure in ("codec_grid.png", "tradeoff.png", "samples.png"):
    assert (tmp_path / figure).stat().st_size > 1000, figure
  images = sum("image/png" in out.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code"
               for out in cell.outputs)
  assert images >= 5


def test_paper_notebook(tmp_path):
  notebook = execute("bls2017_paper.ipynb", {"FAST": True}, tmp_path)
  assert (tmp_path / "rd_results" / "rd_psnr.png").exists()
  assert (tmp_path / "visual.png").exists()
  images = sum("image/png" in out.get("data", {})
               for cell in notebook.cells if cell.cell_type == "code"
               for out in cell.outputs)
  assert images >= 6
