"""The pages' generated text: what `python -m bls2017.docs` makes from the
committed results is what the committed pages say."""

import json
import os

import pytest

from bls2017.docs import blocks, pages as docs, tables
from helpers.commands import ROOT


def test_generated_text_is_the_committed_text():
  stale = docs.update(ROOT, check=True)
  assert not stale, ("run `python -m bls2017.docs`; stale blocks: "
                     f"{stale}")


def test_every_block_is_on_a_page():
  used = set()
  for page in docs.pages(ROOT):
    with open(page, encoding="utf-8") as f:
      used.update(docs.render(f.read(), lambda name: "")[1])
  assert used == set(blocks.BLOCKS)


def _page(*names):
  return "".join(f"before\n<!-- begin generated: {n} -->\nold {n}\n"
                 f"<!-- end generated: {n} -->\n" for n in names) + "after\n"


def test_render_replaces_only_the_marked_text():
  text, names = docs.render(_page("a", "b"), lambda name: f"new {name}")
  assert names == ["a", "b"]
  assert text == _page("a", "b").replace("old", "new")


def test_broken_markers_are_refused():
  with pytest.raises(blocks.DocsError, match="1 begin and 0 end markers"):
    docs.render("<!-- begin generated: a -->\ntext\n", str)
  with pytest.raises(blocks.DocsError, match="0 matching pairs"):
    docs.render("<!-- begin generated: a -->\nx\n"
                "<!-- end generated: b -->\n", str)


def test_check_names_stale_blocks_and_writes_nothing(tmp_path, monkeypatch):
  monkeypatch.setattr(docs, "PAGES", ("*.md",))
  monkeypatch.setattr(blocks, "BLOCKS", {"a": lambda root: "fresh",
                                         "b": lambda root: "old b"})
  page = tmp_path / "page.md"
  page.write_text(_page("a", "b"))
  assert docs.update(str(tmp_path), check=True) == [("page.md", ["a"])]
  assert page.read_text() == _page("a", "b")
  assert docs.update(str(tmp_path)) == [("page.md", ["a"])]
  assert "old a" not in page.read_text() and "fresh" in page.read_text()
  assert docs.update(str(tmp_path), check=True) == []


def test_unknown_block_and_a_reading_the_results_no_longer_bear(tmp_path,
                                                                  monkeypatch):
  monkeypatch.setattr(docs, "PAGES", ("*.md",))
  (tmp_path / "page.md").write_text(_page("nowhere"))
  with pytest.raises(blocks.DocsError, match="unknown generated block"):
    docs.update(str(tmp_path), check=True)

  def contradicted(root):
    del root
    blocks._require(False, "the matrix product is faster")  # pylint: disable=protected-access

  monkeypatch.setitem(blocks.BLOCKS, "nowhere", contradicted)
  with pytest.raises(blocks.DocsError, match="no longer bear out: the matrix"):
    docs.update(str(tmp_path), check=True)


# Folders measured before files recorded their machine; being measured
# again.
_PENDING = ("related/20k/",)


def _computed(path):
  """A file computed from other results files, not measured: the BD figures
  (bd.json, bd_ANCHOR.json) and the paper's published curve."""
  name = os.path.basename(path)
  return (name == "bd.json" or name.startswith("bd_")
          or path.startswith("published/"))


def _records_machine(value):
  """Whether a record names a machine: its CPU, cores and TensorFlow."""
  if isinstance(value, dict):
    machine = value.get("machine")
    if isinstance(machine, dict) and all(
        machine.get(k) for k in ("cpu", "cores", "tensorflow")):
      return True
    return any(_records_machine(v) for v in value.values())
  return isinstance(value, list) and any(_records_machine(v) for v in value)


def test_every_measured_results_file_records_its_machine():
  results = os.path.join(ROOT, "results")
  unrecorded = []
  for folder, _, names in os.walk(results):
    for name in names:
      path = os.path.relpath(os.path.join(folder, name), results)
      if (not name.endswith(".json") or _computed(path)
          or path.startswith(_PENDING)):
        continue
      with open(os.path.join(folder, name), encoding="utf-8") as f:
        if not _records_machine(json.load(f)):
          unrecorded.append(path)
  assert not unrecorded


def test_a_record_without_a_real_machine_is_not_counted():
  machine = {"cpu": "AMD EPYC", "cores": 2, "tensorflow": "2.14.1"}
  assert _records_machine({"a": [{"machine": machine}]})
  assert not _records_machine({"machine": None})
  assert not _records_machine({"machine": dict(machine, cores=0)})
  assert not _computed("related/cae_admm_ablation.json")
  assert _computed("kodak/bd_webp.json") and _computed("rd/bd.json")


def _zoo_entry(fingerprint, steps, **fields):
  return {"fingerprint": fingerprint, "num_filters": 8, **fields,
          "training": {"steps": steps, "wall_time_hours": 1.0},
          "validation": {"bpp": 0.5, "psnr": 30.0, "ms_ssim": 0.97}}


def test_replaced_models_stand_before_their_successor_oldest_first():
  catalog = {"a": _zoo_entry("a3", 30, gdn="paper"), "b": _zoo_entry("b", 5)}
  replaced = {  # Out of order on purpose; "b" replaced nothing.
      "a2": {"name": "a", "revision": None, "replaced_by": "a3",
             "entry": _zoo_entry("a2", 20)},
      "a1": {"name": "a", "revision": "1111111ffff", "replaced_by": "a2",
             "entry": _zoo_entry("a1", 10)}}
  rows = [row.split(" | ") for row in
          tables.replaced_table(catalog, replaced).splitlines()[2:]]
  assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
      ("| a", "until 1111111", "simplified", "10"),
      ("| a", "before", "simplified", "20"),
      ("| a", "now", "paper", "30")]


def test_gap_to_a_reference_is_read_off_its_curve_in_log_rate():
  reference = {"bpp": [0.4, 0.1], "psnr-rgb": [30.0, 26.0]}  # Unsorted.
  points = {"bpp": [0.2, 0.4, 0.8], "psnr-rgb": [27.0, 31.5, 33.0]}
  rows = tables.reference_gap_table(["a", "b", "c"], points, reference,
                                    "ref").splitlines()
  assert rows[0].startswith("| model | bpp | PSNR (dB) | ref at that bpp")
  # 0.2 lies halfway between 0.1 and 0.4 in log(bpp); 0.8 is beyond them.
  assert rows[2:] == ["| a | 0.200 | 27.00 | 28.00 | -1.00 |",
                      "| b | 0.400 | 31.50 | 30.00 | +1.50 |",
                      "| c | 0.800 | 33.00 | — | — |"]
  with pytest.raises(ValueError, match="zip"):  # A label short: no row dropped.
    tables.reference_gap_table(["a", "b"], points, reference, "ref")



def test_prose_on_the_old_rgb_ladder_fails_once_a_campaign_model_ships(
    monkeypatch):
  from bls2017 import zoo
  catalog = {name: _zoo_entry(name, steps, channels=3, num_filters=128)
             for name, steps in (("m-1", 16000), ("m-2", 22500))}
  monkeypatch.setattr(zoo, "catalog", lambda: catalog)
  monkeypatch.setattr(zoo, "ladder", lambda channels: ["m-1", "m-2"])
  assert blocks.BLOCKS["zoo-gap"](ROOT).startswith("16,000 to 22,500 CPU")
  assert "successors" in blocks.BLOCKS["zoo-successors"](ROOT)
  catalog["m-2"]["training"]["campaign"] = {"name": "rgb-q2"}
  for name in ("zoo-gap", "zoo-successors"):
    with pytest.raises(blocks.DocsError, match="predate the ladder campaign"):
      blocks.BLOCKS[name](ROOT)


def test_cpu_recipe_names_the_first_default_model_also_once_replaced(
    monkeypatch):
  from bls2017 import zoo
  first = _zoo_entry("old", 16000)
  first["training"]["wall_time_hours"] = 1.85
  campaign = _zoo_entry("new", 115000)
  campaign["training"]["campaign"] = {"name": "rgb-q4"}

  class Catalog:
    def __init__(self, replaced):
      self._replaced = replaced

    def replaced(self):
      return self._replaced

  expected = ("the 16,000-step run (1.85\n  h) that became the first "
              f"`{zoo.DEFAULT}` (0.500 bpp / 30.00 dB")
  for shipped, replaced in (
      (first, {}),
      (campaign, {"old": {"name": zoo.DEFAULT, "entry": first}})):
    monkeypatch.setattr(zoo, "catalog", lambda s=shipped: {zoo.DEFAULT: s})
    monkeypatch.setattr(zoo, "CATALOG", Catalog(replaced))
    assert expected in blocks.BLOCKS["cpu-recipe-base"](ROOT)
  monkeypatch.setattr(zoo, "CATALOG", Catalog({}))
  with pytest.raises(blocks.DocsError, match="random weights"):
    blocks.BLOCKS["cpu-recipe-base"](ROOT)
