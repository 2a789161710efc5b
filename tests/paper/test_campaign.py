"""The ladder campaign: its plan, the paper's preprocessing, the trainer's
exact resume and restart from a snapshot, the progress file and command;
and what the campaign rests on: the GDN forms, the matmul RDFT kernels,
the rate on given noise."""

import dataclasses
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bls2017.campaign import photos
from bls2017.campaign import plan as plan_lib
from bls2017.campaign import progress
from helpers.commands import ROOT
from helpers.synthetic import synthetic_image


def _plan_content(**model_overrides):
  base = {"name": "base", "lambda": 0.01, "channels": 3, "filters": 8,
          "phases": [{"patchsize": 32, "steps": 4},
                     {"patchsize": 48, "steps": 2}],
          "learning_rate": {"peak": 1e-3, "warmup": 2},
          "milestones": [3]}
  child = {"name": "gray", "lambda": 0.02, "channels": 1, "filters": 8,
           "parent": "base", "phases": [{"patchsize": 32, "steps": 3}],
           "learning_rate": {"peak": 1e-3}}
  return {"data": {"train": ["train/**/*.png", "train/**/*.JPEG"],
                   "valid": "valid", "downsample": [0.6, 0.9]},
          "defaults": {"batchsize": 2, "gdn": "paper", "seed": 0},
          "models": [dict(base, **model_overrides), child]}


def test_plan_parses_with_defaults_and_order():
  plan = plan_lib.parse(_plan_content())
  base, gray = plan.models
  assert (base.lmbda, base.steps, base.gdn, base.batchsize) == (
      0.01, 6, "paper", 2)
  assert [base.phase_at(s).patchsize for s in range(7)] == [32] * 4 + [48] * 3
  assert [m.name for m in plan_lib.order(plan)] == ["base", "gray"]


@pytest.mark.parametrize("overrides, message", [
    ({"colour": 3}, "unknown field"),
    ({"parent": "nowhere"}, "not in the plan"),
    ({"parent": "gray"}, "cycle"),
    ({"filters": 16}, "other filters"),
    ({"gdn": "square"}, "gdn must be"),
    ({"phases": [{"patchsize": 30, "steps": 4}]}, "multiples of 16"),
    ({"learning_rate": {"peak": 1e-3, "warmup": 6}}, "warmup"),
    ({"weights": "int4"}, "weights must be one of"),
])
def test_plan_errors_name_the_problem(overrides, message):
  with pytest.raises(plan_lib.PlanError, match=message):
    plan_lib.parse(_plan_content(**overrides))


def test_committed_plan_is_valid_and_the_paper_ladder():
  plan = plan_lib.load(os.path.join(ROOT, "campaign", "plan.json"))
  rgb = sorted(m.lmbda for m in plan.models if m.channels == 3)
  assert rgb == [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932,
                 0.1800]
  assert sum(m.channels == 1 for m in plan.models) == 2
  roots = [m for m in plan.models if m.parent is None]
  # One long base per width and channel count; every other model from a
  # neighbour.
  assert len(roots) <= 3
  assert all(m.gdn == plan.models[0].gdn for m in plan.models)


def _write_photos(folder, sizes):
  os.makedirs(folder, exist_ok=True)
  for i, (height, width) in enumerate(sizes):
    Image.fromarray(synthetic_image(height, width)).save(
        os.path.join(folder, f"p{i}.png"))


def test_photos_downsampled_within_range_cached_and_small_ones_dropped(
    tmp_path):
  _write_photos(tmp_path / "train", [(200, 300), (120, 100), (64, 80)])
  arrays = photos.load(str(tmp_path), ["train/*.png"], 3, (0.6, 0.9), 64,
                       seed=0)
  assert len(arrays) == 3
  # 200 x 300 shrinks by a factor in [0.6, 0.9]; 64 x 80 cannot shrink.
  assert 120 <= arrays[0].shape[0] <= 180
  assert arrays[2].shape[:2] == (64, 80)
  assert min(arrays[1].shape[:2]) >= 64
  cached = photos.load(str(tmp_path), ["train/*.png"], 3, (0.6, 0.9), 64,
                       seed=0, cache_dir=str(tmp_path / "cache"))
  again = photos.load(str(tmp_path), ["train/*.png"], 3, (0.6, 0.9), 64,
                      seed=0, cache_dir=str(tmp_path / "cache"))
  assert len(os.listdir(tmp_path / "cache")) == 1
  for a, b, c in zip(arrays, cached, again):
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
  assert len(photos.load(str(tmp_path), ["train/*.png"], 1, (0.6, 0.9), 100,
                         seed=0)) == 2


def test_no_photos_is_a_data_error(tmp_path):
  from bls2017.core.patches import DataError
  with pytest.raises(DataError, match="no training images"):
    photos.load(str(tmp_path), ["train/*.png"], 3, (0.6, 0.9), 32, seed=0)


def test_eta_from_measured_speeds():
  plan = plan_lib.parse(_plan_content())
  content = {"models": {"base": dict(progress.empty_entry(), steps=2,
                                     seconds_per_step={"32": 1.0})}}
  left = progress.remaining_seconds(plan, content)
  # base: 2 steps at 32 (measured), 2 at 48 (scaled by pixels: 2.25 s).
  assert left["base"] == pytest.approx(2 + 2 * 2.25)
  # gray: same filters, 3 steps at 32 scaled from base's speed.
  assert left["gray"] == pytest.approx(3.0)
  # gray starts from base's final weights: the two run one after the
  # other, though two workers are free.
  assert progress.eta_seconds(plan, plan_lib.order(plan), content) == (
      pytest.approx(left["base"] + left["gray"]))
  # Without the parent, side by side on two workers, one after the other
  # on one.
  apart = dataclasses.replace(plan, models=(
      plan.model("base"), dataclasses.replace(plan.model("gray"),
                                              parent=None)))
  for workers, seconds in ((2, left["base"]), (1, sum(left.values()))):
    assert progress.eta_seconds(apart, apart.models, content,
                                workers) == pytest.approx(seconds)
  content["models"]["base"]["status"] = "done"
  assert "base" not in progress.remaining_seconds(plan, content)
  assert progress.eta_seconds(plan, plan_lib.order(plan), content) == (
      pytest.approx(3.0))


# What the trainer rests on (TensorFlow from here on).

def test_paper_gdn_is_the_papers_equation():
  import tensorflow as tf
  from bls2017.core import layers
  u = tf.random.stateless_normal((1, 3, 3, 4), seed=(1, 2))
  gdn = layers.gdn(False, "g", "paper")
  v = gdn(u)
  expected = u / tf.sqrt(gdn.beta + tf.einsum("bhwi,ij->bhwj", u * u,
                                              gdn.gamma))
  np.testing.assert_allclose(v.numpy(), expected.numpy(), rtol=1e-5)
  igdn = layers.gdn(True, "i", "paper")
  w = igdn(u)
  np.testing.assert_allclose(w.numpy(), (u * tf.sqrt(
      igdn.beta + tf.einsum("bhwi,ij->bhwj", u * u, igdn.gamma))).numpy(),
                             rtol=1e-5)


def test_gdn_form_is_stored_and_old_files_load_as_simplified(tmp_path):
  from bls2017.core import model_file
  from bls2017.paper.model import BLS2017Model
  model = BLS2017Model(0.01, 8, 3, "paper")
  path = str(tmp_path / "m.npz")
  model_file.save(model, path)
  assert model_file.load(path).model.gdn == "paper"
  # A zoo model file predates the option: no "gdn" in its config.
  from bls2017.core import catalog
  shipped = catalog.resolve("bls2017-mse-1")
  with np.load(shipped) as archive:
    assert "gdn" not in json.loads(str(archive["config"]))
  assert model_file.load(shipped).model.gdn == "simplified"


def test_warm_start_refuses_another_gdn_form():
  from bls2017.core import model_file
  from bls2017.paper.model import BLS2017Model
  from bls2017.paper.train import warm_start
  with pytest.raises(model_file.ModelFileError, match="--gdn paper"):
    warm_start(BLS2017Model(0.01, 8, 3, "simplified"),
               BLS2017Model(0.01, 8, 3, "paper"))


def test_matmul_rdft_kernel_equals_tfc_kernel_and_gradient():
  import tensorflow as tf
  from bls2017.core import layers
  for kernel, up in ((9, False), (5, True), (4, False)):
    conv = layers.signal_conv(6, kernel, 2, up, "c")
    conv.build((None, None, None, 5))
    with tf.GradientTape(persistent=True) as tape:
      reference = conv.kernel
      conv.kernel_by_matmul = True
      fast = conv.kernel
      conv.kernel_by_matmul = False
      weights = tf.random.stateless_normal(fast.shape, seed=(3, kernel))
      loss_ref = tf.reduce_sum(reference * weights)
      loss_fast = tf.reduce_sum(fast * weights)
    np.testing.assert_allclose(fast.numpy(), reference.numpy(), atol=1e-6)
    variables = conv.kernel_parameter.trainable_variables
    for a, b in zip(tape.gradient(loss_fast, variables),
                    tape.gradient(loss_ref, variables)):
      np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_rate_on_given_noise_is_the_entropy_models_rate():
  import tensorflow as tf
  import tensorflow_compression as tfc
  from bls2017.paper.model import BLS2017Model
  model = BLS2017Model(0.01, 8, 3, "paper")
  x = tf.constant(synthetic_image(32, 48)[None], tf.float32)
  y = model.g_a(x)
  noise = tf.random.stateless_uniform(tf.shape(y), (4, 5), -.5, .5)
  bpp, _ = model(x, training=True, noise=noise)
  entropy_model = model.entropy_model(compression=False,
                                      offset_heuristic=False)
  log_probs, _ = tfc.ops.perturb_and_apply(model.prior.log_prob, y, u=noise)
  bits = tf.reduce_sum(log_probs) / -np.log(2)
  assert not entropy_model.expected_grads
  assert float(bpp) == pytest.approx(float(bits) / (32 * 48), rel=1e-5)


# The trainer.

def _campaign(tmp_path, **model_overrides):
  _write_photos(tmp_path / "data" / "train", [(96, 128), (80, 100)])
  _write_photos(tmp_path / "data" / "valid", [(48, 64)])
  plan = plan_lib.parse(_plan_content(**model_overrides))
  return plan


def _context(tmp_path, plan, state="state"):
  from bls2017.campaign import worker
  return worker.Context(plan, str(tmp_path / "data"), str(tmp_path / state),
                        str(tmp_path / "snapshots"),
                        str(tmp_path / "progress.json"), deadline=1e12,
                        log=lambda *_: None)


class _StopAfter:
  """A stop that is requested after `steps` checks of the loop."""

  def __init__(self, steps):
    self.left = steps

  @property
  def requested(self):
    self.left -= 1
    return self.left < 0


def _weights(path):
  from bls2017.core import model_file
  from bls2017.paper.model import BLS2017Model
  return [v.numpy() for v in model_file.load(
      path, BLS2017Model).model.coding_variables]


@pytest.mark.slow
def test_stopped_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
  from bls2017.campaign import worker
  plan = _campaign(tmp_path)
  base = plan.model("base")
  straight = tmp_path / "straight"
  straight.mkdir()
  ctx = _context(tmp_path, plan)
  ctx.snapshot_dir = str(straight)
  ctx.state_dir = str(straight / "state")
  ctx.progress_path = str(straight / "progress.json")
  assert worker.run(base, ctx, _StopAfter(10**6))
  ctx = _context(tmp_path, plan)
  # Stopped in the first phase, then in the second, then to the end.
  assert not worker.run(base, ctx, _StopAfter(3))
  assert not worker.run(base, ctx, _StopAfter(2))
  assert worker.run(base, ctx, _StopAfter(10**6))
  for a, b in zip(_weights(straight / "base.npz"),
                  _weights(tmp_path / "snapshots" / "base.npz")):
    np.testing.assert_array_equal(a, b)
  entry = progress.read(ctx.progress_path)["models"]["base"]
  assert entry["status"] == "done" and entry["steps"] == 6
  assert [(r["start"], r["from_step"], r["to_step"])
          for r in entry["runs"]] == [
      ("random", 0, 3), ("checkpoint", 3, 5), ("checkpoint", 5, 6)]
  assert [v["step"] for v in entry["validation"]] == [3, 6]
  # The final model is validated again as float16: what its storage costs.
  final = entry["validation"][-1]
  assert "storage_cost_db" not in entry["validation"][0]
  assert final["storage_cost_db"] == pytest.approx(
      final["psnr"] - final["float16"]["psnr"], abs=1e-4)
  assert final["float16"]["bpp"] > 0
  for figures in entry["validation"]:
    # Both weights validated; the top figures are the better's.
    best = figures["weights"]
    assert figures[best]["loss"] == min(figures["raw"]["loss"],
                                        figures["ema"]["loss"])
    assert figures["bpp"] == figures[best]["bpp"] > 0
  # Stored again from its checkpoint (as after a storage rule changed):
  # the same weights, the final validation replaced, the record kept.
  from bls2017.core import model_file
  snapshot = tmp_path / "snapshots" / "base.npz"
  metadata = model_file.load(str(snapshot)).metadata
  snapshot.unlink()
  with pytest.raises(FileNotFoundError, match="no finished model"):
    worker.store_again(base, ctx)
  model_file.save(model_file.load(str(straight / "base.npz")).model,
                  str(snapshot), dtype=base.weights, metadata=metadata)
  assert worker.store_again(base, ctx) == final["weights"]
  again = progress.read(ctx.progress_path)["models"]["base"]
  assert again["runs"] == entry["runs"] and again["hours"] == entry["hours"]
  assert again["validation"][0] == entry["validation"][0]
  assert again["validation"][-1]["bpp"] == pytest.approx(final["bpp"])
  assert model_file.load(str(snapshot)).metadata == metadata
  for a, b in zip(_weights(straight / "base.npz"), _weights(snapshot)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_lost_state_restarts_from_the_snapshot_then_child_from_parent(
    tmp_path, monkeypatch):
  from bls2017.campaign import worker
  from bls2017.core import model_file
  plan = _campaign(tmp_path, zoo="toy-1")
  ctx = _context(tmp_path, plan)
  assert not worker.run(plan.model("base"), ctx, _StopAfter(4))
  with pytest.raises(FileNotFoundError, match="parent base is not finished"):
    worker.run(plan.model("gray"), ctx, _StopAfter(10**6))
  # A snapshot while training holds the training weights.
  base = model_file.load(str(tmp_path / "snapshots" / "base.npz"))
  assert base.metadata["campaign"]["weights"] == "raw"
  assert not base.metadata["campaign"]["done"]
  lost = _context(tmp_path, plan, state="new_state")
  trainer = worker.Trainer(plan.model("base"), str(tmp_path / "t"))
  assert worker.start(trainer, lost) == "snapshot"
  assert int(trainer.step.numpy()) == 4
  assert worker.run(plan.model("base"), lost, _StopAfter(10**6))
  assert worker.run(plan.model("gray"), lost, _StopAfter(10**6))
  runs = progress.read(lost.progress_path)["models"]
  assert [r["start"] for r in runs["base"]["runs"]] == ["random", "snapshot"]
  assert [r["start"] for r in runs["gray"]["runs"]] == ["parent"]
  gray = model_file.load(str(tmp_path / "snapshots" / "gray.npz"))
  assert gray.model.channels == 1 and gray.model.gdn == "paper"
  campaign = gray.metadata["campaign"]
  final = progress.read(lost.progress_path)["models"]["gray"][
      "validation"][-1]
  assert campaign == {"name": "gray", "step": 3, "done": True,
                      "hours": campaign["hours"],
                      "weights": final["weights"]}
  assert gray.metadata["total_steps"] == 3 + 6
  assert gray.metadata["warm_start"] == {"model": "base.npz"}
  # Promotion: into an empty zoo, the finished base (which has a zoo name)
  # enters, int8, with its runs; the gray model (none) does not.
  from bls2017 import zoo
  from bls2017.campaign import promote
  from bls2017.core import catalog
  monkeypatch.setattr(zoo, "CATALOG", catalog.Catalog(str(tmp_path / "zoo")))
  (tmp_path / "zoo").mkdir()
  content = progress.read(lost.progress_path)
  assert promote.promote(plan, content, lost.snapshot_dir,
                         str(tmp_path / "data" / "valid"),
                         log=lambda *_: None) == ["base"]
  entry = zoo.catalog()["toy-1"]
  assert entry["gdn"] == "paper" and entry["num_filters"] == 8
  assert [r["to_step"] for r in entry["training"]["runs"]] == [4, 6]
  assert entry["training"]["runs"][0]["machine"]["commit"] != ""
  storage = entry["training"]["storage"]
  assert storage["weights"] == plan.model("base").weights == "int8"
  final = content["models"]["base"]["validation"][-1]
  assert storage["psnr_change_db"] == final["storage_cost_db"]


def _campaign_command(*argv, cwd=ROOT):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, "-m", "bls2017.campaign", *argv],
                        capture_output=True, text=True, env=env, cwd=cwd,
                        timeout=600)


def test_status_of_the_committed_plan():
  result = _campaign_command("status")
  assert result.returncode == 0, result.stderr
  assert "rgb" in result.stdout and "ETA" in result.stdout
  if os.path.exists(os.path.join(ROOT, ".git")):  # A checkout with history.
    # The campaign's share of the history stays in its budget.
    added = re.search(r"history: ([0-9.]+) MB of the 200 MB", result.stdout)
    assert added and 0 < float(added.group(1)) < 200, result.stdout


def test_bad_plan_is_a_one_line_error(tmp_path):
  (tmp_path / "plan.json").write_text('{"data": {}}')
  result = _campaign_command("--plan", str(tmp_path / "plan.json"), "status")
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      "campaign status: error: plan: missing or wrong field ('train')."]


def test_promotion_needs_a_finished_model_above_the_zoo_curve():
  from bls2017.campaign import promote
  curve = [(0.2, 25.0), (0.4, 27.0), (0.8, 29.0)]
  assert promote.curve_psnr(curve, 0.4) == pytest.approx(27.0)
  assert promote.curve_psnr(curve, np.sqrt(0.2 * 0.4)) == pytest.approx(26.0)
  assert promote.curve_psnr(curve, 1.6) == pytest.approx(31.0)  # Extended.
  assert promote.curve_psnr(curve, 0.1) == pytest.approx(23.0)
  plan = plan_lib.parse(_plan_content(zoo="toy-1"))
  base = plan.model("base")
  catalog = {f"old-{i}": {"channels": 3, "validation": {"bpp": b, "psnr": p}}
             for i, (b, p) in enumerate(curve)}
  entry = dict(progress.empty_entry(), status="training", validation=[
      {"step": 6, "bpp": 0.4, "psnr": 28.0}])
  assert promote.verdict(base, entry, catalog) == (False, "not finished")
  entry["status"] = "done"
  assert promote.verdict(base, entry, catalog)[0]
  entry["validation"] = [{"step": 6, "bpp": 0.4, "psnr": 26.9}]
  promote_it, reason = promote.verdict(base, entry, catalog)
  assert not promote_it and "-0.10 dB" in reason
  # A gray model has no shipped curve of its channels here: it enters.
  gray = dataclasses.replace(plan.model("gray"), zoo="toy-gray")
  gray_entry = dict(entry, validation=[{"step": 3, "bpp": 1.0, "psnr": 1.0}])
  assert promote.verdict(gray, gray_entry, catalog)[0]
  assert not promote.verdict(plan.model("gray"), gray_entry, catalog)[0]


def test_promotion_judges_every_model_against_the_ladder_it_replaces(
    monkeypatch):
  from bls2017.campaign import promote
  old = {"old-1": (0.4, 27.0), "old-2": (0.8, 29.0)}
  catalog = {name: {"channels": 3, "validation": {"bpp": b, "psnr": p}}
             for name, (b, p) in old.items()}
  plan = plan_lib.parse(_plan_content(zoo="toy-1"))
  plan = dataclasses.replace(plan, models=(
      dataclasses.replace(plan.model("base"), name="a", zoo="old-2"),
      dataclasses.replace(plan.model("base"), name="b", zoo="new-3")))

  def done(bpp, psnr):
    return dict(progress.empty_entry(), status="done",
                validation=[{"step": 6, "bpp": bpp, "psnr": psnr}])

  content = {"models": {"a": done(0.82, 31.0), "b": done(1.6, 32.0)}}
  # b is 1 dB above the old ladder's curve extended to its rate; against
  # a curve through a's point, once a has shipped, it would be 2.7 dB below.
  from bls2017 import zoo
  from bls2017.zoo import __main__ as zoo_command

  def ship(name, *_, **__):  # Into the zoo, as zoo's ship does.
    model = {"old-2": "a", "new-3": "b"}[name]
    figures = content["models"][model]["validation"][-1]
    catalog[name] = {"channels": 3, "validation": {
        "bpp": figures["bpp"], "psnr": figures["psnr"]}}

  monkeypatch.setattr(zoo, "catalog", lambda: dict(catalog))
  monkeypatch.setattr(zoo_command, "ship", ship)
  assert promote.promote(plan, content, "snapshots", "valid",
                         log=lambda *_: None) == ["a", "b"]
  content["models"]["a"]["promoted"] = "old-2"
  assert [m.name for m, _, _ in promote.decisions(plan, content)] == ["b"]


def test_promote_dry_run_ships_nothing_unfinished(tmp_path):
  # The committed progress with every model still training: none ships.
  content = progress.read(os.path.join(ROOT, "campaign", "progress.json"))
  for entry in content["models"].values():
    entry["status"] = "training"
  progress.write(str(tmp_path / "progress.json"), content)
  result = _campaign_command("--progress", str(tmp_path / "progress.json"),
                             "promote", "--dry_run")
  assert result.returncode == 0, result.stderr
  plan = plan_lib.load(os.path.join(ROOT, "campaign", "plan.json"))
  for model in plan.models:
    if model.channels == 1:  # Shipped already: promote skips them.
      continue
    assert (f"{model.name} -> {model.zoo}: keep the zoo (not finished)"
            in result.stdout)



def test_convergence_figure_of_the_validation_points(tmp_path):
  from bls2017.campaign import figures
  plan = plan_lib.parse(_plan_content())
  content = {"models": {"base": dict(progress.empty_entry(), validation=[
      {"step": s, "bpp": b, "psnr": p, "loss": b + 0.01 * 255 ** 2 /
       10 ** (p / 10), "weights": "raw"}
      for s, b, p in ((1000, 1.2, 24.0), (2000, 0.9, 26.5))])}}
  path = figures.convergence(plan, content, str(tmp_path / "c.png"))
  with Image.open(path) as image:
    assert image.width > 2 * image.height
