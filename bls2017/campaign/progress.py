"""The campaign's committed progress file, and the ETA it gives.

    {"models": {NAME: {"status": "pending" | "training" | "done",
                       "steps": N, "hours": H,
                       "seconds_per_step": {PATCHSIZE: S},
                       "train": {"step", "loss", "bpp", "mse"},
                       "validation": [{"step", "hours", "bpp", "psnr",
                                       "ms_ssim", "ms_ssim_db", "loss"}],
                       "snapshot": {"file", "step"},
                       "runs": [{"start", "from_step", "to_step",
                                 "hours", "machine"}]}}}

A run's "start" is what it started from: "checkpoint" (exactly where the
last run stopped), "snapshot" (the committed weights, with a fresh
optimizer state, where the state directory was lost), "parent" or
"random". Runs recorded before it existed have none.

Workers training at once update it under a file lock, each its own
model's entry. Plain Python: `status` reads it without TensorFlow.
"""

import contextlib
import fcntl
import json
import os

from bls2017.core import images
from bls2017.core.timing import machine  # pylint: disable=unused-import


def empty_entry():
  return {"status": "pending", "steps": 0, "hours": 0.0,
          "seconds_per_step": {}, "train": {}, "validation": [],
          "snapshot": None, "runs": []}


def read(path):
  """The progress file's content ({"models": {}} where there is none)."""
  try:
    with open(path) as f:
      return json.load(f)
  except FileNotFoundError:
    return {"models": {}}


def write(path, content):
  with images.atomic_output(path) as f:
    f.write((json.dumps(content, indent=1, sort_keys=True) + "\n").encode())


@contextlib.contextmanager
def entry(path, name):
  """Yields model `name`'s entry to change in place; writes the file after,
  holding a lock on it (PATH.lock) throughout."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path + ".lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    content = read(path)
    model = content["models"].setdefault(name, empty_entry())
    yield model
    write(path, content)


def seconds_per_step(plan_model, entry_, patchsize, known):
  """Measured seconds per step of this model at `patchsize`, else scaled
  from another measured model (`known`: {(filters, patchsize, channels):
  seconds}) by pixels times filters squared; None if nothing is known."""
  own = entry_.get("seconds_per_step", {}).get(str(patchsize))
  if own:
    return own
  cost = plan_model.step_cost()[patchsize]
  for (filters, size, _), seconds in sorted(known.items()):
    other = size ** 2 * filters ** 2 / 128 ** 4
    return seconds * cost / other
  return None


def remaining_seconds(plan, content):
  """{name: seconds of training left} for each unfinished model (None
  where no speed is known yet), at the measured speeds."""
  models = content.get("models", {})
  known = {}
  for model in plan.models:
    for size, seconds in models.get(model.name, {}).get(
        "seconds_per_step", {}).items():
      known[(model.filters, int(size), model.channels)] = seconds
  left = {}
  for model in plan.models:
    entry_ = models.get(model.name, empty_entry())
    if entry_["status"] == "done":
      continue
    total, start = 0.0, 0
    for phase in model.phases:
      todo = max(0, min(phase.steps, start + phase.steps - entry_["steps"]))
      start += phase.steps
      if todo:
        speed = seconds_per_step(model, entry_, phase.patchsize, known)
        if speed is None:
          total = None
          break
        total += todo * speed
    left[model.name] = total
  return left


def eta_seconds(plan, order, content, workers=2):
  """Seconds until the plan is done, the models left scheduled as `run`
  starts them: up to `workers` at once, each once its parent is done, the
  first ready in `order` first (None while a speed is unknown). A chain
  runs one model after another, which half the summed time would miss.
  A model running alone gets every core: there the figure is an upper
  bound."""
  left = remaining_seconds(plan, content)
  if any(seconds is None for seconds in left.values()):
    return None
  pending = [m for m in order if m.name in left]
  done = {m.name for m in order if m.name not in left}
  running, now = {}, 0.0  # name: when it finishes.
  while pending or running:
    for model in [m for m in pending if m.parent in done | {None}]:
      if len(running) < workers:
        running[model.name] = now + left[model.name]
        pending.remove(model)
    name = min(running, key=running.get)
    now = running.pop(name)
    done.add(name)
  return now
