"""Promotion: a finished model enters the zoo only when it beats the zoo.

    progress.json (the model's final validation: real bitstreams, EMA
    weights) --above the zoo ladder's curve?--> bls2017.zoo's ship()
    --> bls2017/zoo/NAME.npz and its models.json entry

"Beats" is measured on the validation set, where the zoo's figures were
measured too: the new (bpp, PSNR) must lie above the curve through the
shipped ladder of the same channels as it was before the promotion, PSNR
interpolated linearly in log(bpp) (and extended along its end segments
beyond them). Plain Python up to the shipping itself.
"""

import math
import os

from bls2017 import zoo


def curve_psnr(curve, bpp):
  """PSNR of the piecewise-linear curve in log(bpp) through `curve`
  [(bpp, psnr), ...] at `bpp`, extended along its end segments."""
  points = sorted(curve)
  if len(points) == 1:
    return points[0][1]
  x = math.log(bpp)
  for (b0, p0), (b1, p1) in zip(points, points[1:]):
    if x <= math.log(b1) or (b1, p1) == points[-1]:
      t = (x - math.log(b0)) / (math.log(b1) - math.log(b0))
      return p0 + t * (p1 - p0)
  raise AssertionError("unreachable")


def shipped_curve(channels, catalog=None):
  """[(bpp, psnr)] of the zoo's models with `channels` on the validation
  set."""
  if catalog is None:
    catalog = zoo.catalog()
  return [(e["validation"]["bpp"], e["validation"]["psnr"])
          for e in catalog.values() if e["channels"] == channels]


def final_validation(plan_model, entry):
  """The validation figures of the finished model (its last step), or
  None while it is not done."""
  if entry.get("status") != "done":
    return None
  for figures in entry.get("validation", []):
    if figures["step"] == plan_model.steps:
      return figures
  return None


def verdict(plan_model, entry, catalog=None):
  """(promote?, reason) for a plan model and its progress entry."""
  figures = final_validation(plan_model, entry)
  if figures is None:
    return False, "not finished"
  if not plan_model.zoo:
    return False, "the plan names no zoo entry for it"
  curve = shipped_curve(plan_model.channels, catalog)
  if not curve:
    return True, "no shipped model of its channels"
  old = curve_psnr(curve, figures["bpp"])
  gain = figures["psnr"] - old
  reason = (f"{figures['bpp']:.3f} bpp, {figures['psnr']:.2f} dB: "
            f"{gain:+.2f} dB against the zoo's curve")
  return gain > 0, reason


def chain_hours(plan, content, name):
  """Training hours of `name` and of every model it descends from."""
  hours = 0.0
  while name:
    hours += content["models"].get(name, {}).get("hours", 0.0)
    name = plan.model(name).parent
  return hours


def hardware(entry):
  """The machines of a model's runs, in words."""
  machines = {(m["cores"], m["cpu"], m["tensorflow"])
              for m in (r.get("machine") for r in entry.get("runs", []))
              if m}
  return "; ".join(f"{cores} CPU cores ({cpu}), TensorFlow {tf_version}, "
                   "campaign workers of one thread"
                   for cores, cpu, tf_version in sorted(machines))


def decisions(plan, content, catalog=None):
  """[(plan model, promote?, reason)] for every model not yet promoted.

  Each model is judged against the ladder as it stands before any of
  them ships: judged one after another against a zoo that each shipment
  changes, a model would meet a curve through old and new points (a
  new rung next to the old one it has not yet replaced), whose segments
  can be steep enough to reject a model that beats the model it replaces.
  """
  if catalog is None:
    catalog = zoo.catalog()
  return [(model, *verdict(model, content["models"].get(model.name, {}),
                           catalog))
          for model in plan.models
          if not content["models"].get(model.name, {}).get("promoted")]


def promote(plan, content, snapshot_dir, valid_dir, dry_run=False,
            log=print):
  """Ships every finished model that beats the zoo; returns their names."""
  from bls2017.zoo import __main__ as zoo_command  # pylint: disable=import-outside-toplevel
  shipped = []
  for model, promote_it, reason in decisions(plan, content):
    log(f"{model.name} -> {model.zoo}: "
        f"{'promote' if promote_it else 'keep the zoo'} ({reason})")
    if promote_it and not dry_run:
      entry = content["models"][model.name]
      zoo_command.ship(
          model.zoo, os.path.join(snapshot_dir, f"{model.name}.npz"),
          valid_dir, hardware(entry),
          round(chain_hours(plan, content, model.name), 2),
          note=f"Campaign model {model.name} (campaign/plan.json); "
          "wall_time_hours counts its chain from random weights.",
          weights_dtype=model.weights,
          # Each run's steps, hours, machine and the trainer's commit, and
          # what storing its weights costs on the validation set.
          record={"runs": entry.get("runs", []),
                  **_storage_record(model, final_validation(model, entry))})
      shipped.append(model.name)
  return shipped


def _storage_record(plan_model, figures):
  """{"storage": ...}: the stored format and what it costs against
  float16 at the final validation (when the worker measured it)."""
  if "storage_cost_db" not in figures:
    return {}
  return {"storage": {"weights": plan_model.weights,
                      "psnr_change_db": figures["storage_cost_db"],
                      "bpp_change_percent":
                          figures["storage_bpp_change_percent"]}}
