"""The campaign's plan file: which models, from what, for how many steps.

Plain Python (the `status` command reads it without TensorFlow). A plan is
JSON:

    {"data": {"train": [GLOB, ...], "valid": DIR, "downsample": [LO, HI]},
     "defaults": {FIELD: VALUE, ...},          # for every model
     "models": [{"name": ..., "lambda": ..., "channels": ...,
                 "filters": ..., "parent": NAME or null,
                 "phases": [{"patchsize": 128, "steps": N}, ...],
                 "learning_rate": {"peak": ..., "warmup": ..., "final": ...},
                 "milestones": [STEP, ...], "zoo": NAME or null,
                 "weights": "int8" or another stored_weights format},
                ...]}

Globs and folders are relative to the data folder (`--data_dir`). A
model's steps are the sum of its phases', in order: the first phase's
patches until its steps are done, then the next's. The learning rate warms
up linearly from 0 to `peak` over `warmup` steps, then decays along a
cosine to `final` * peak at the last step (Keras' CosineDecay).
"""

import dataclasses
import json
from typing import Optional, Tuple

from bls2017.core import stored_weights, train_config


class PlanError(ValueError):
  """The plan file is missing, unreadable or inconsistent."""


@dataclasses.dataclass(frozen=True)
class Phase:
  patchsize: int
  steps: int


@dataclasses.dataclass(frozen=True)
class LearningRate:
  peak: float
  warmup: int = 0
  final: float = 0.01  # Of the peak, at the last step.


@dataclasses.dataclass(frozen=True)
class ModelPlan:
  """One model of the campaign."""
  name: str
  lmbda: float
  channels: int
  filters: int
  phases: Tuple[Phase, ...]
  learning_rate: LearningRate
  parent: Optional[str] = None  # Warm start from this model's result.
  milestones: Tuple[int, ...] = ()  # Steps at which to validate.
  zoo: Optional[str] = None  # The zoo name it is promoted to.
  gdn: str = "paper"
  batchsize: int = 8
  seed: int = 0
  # Adam's global_clipnorm: a guard against spikes, well above the
  # gradient norms the workers log (it rescales every step it clips).
  clipnorm: Optional[float] = None
  ema: float = 0.999  # Momentum of the weights' moving average.
  # How its snapshots and zoo file store the weights (stored_weights).
  weights: str = "int8"

  @property
  def steps(self):
    return sum(p.steps for p in self.phases)

  def phase_at(self, step):
    """The phase that step `step` (0-based) belongs to."""
    for phase in self.phases:
      if step < phase.steps:
        return phase
      step -= phase.steps
    return self.phases[-1]

  def step_cost(self):
    """Relative cost of a step: pixels times the transforms' width,
    per phase, as {patchsize: cost} (for the ETA until steps are timed)."""
    return {p.patchsize: p.patchsize ** 2 * self.filters ** 2 / 128 ** 4
            for p in self.phases}


@dataclasses.dataclass(frozen=True)
class Data:
  train: Tuple[str, ...]
  valid: str
  downsample: Tuple[float, float] = (0.6, 0.9)


@dataclasses.dataclass(frozen=True)
class Plan:
  data: Data
  models: Tuple[ModelPlan, ...]
  checkpoint_minutes: float = 5.0
  # A run's end commits a snapshot of each model it trained.

  def model(self, name):
    for model in self.models:
      if model.name == name:
        return model
    raise PlanError(f"no model {name!r} in the plan (it has "
                    f"{', '.join(m.name for m in self.models)}).")


_FIELDS = {f.name for f in dataclasses.fields(ModelPlan)}


def _model(entry, defaults):
  entry = dict(defaults, **entry)
  if "lambda" in entry:
    entry["lmbda"] = entry.pop("lambda")
  unknown = set(entry) - _FIELDS
  if unknown:
    raise PlanError(f"model {entry.get('name', '?')}: unknown field(s) "
                    f"{', '.join(sorted(unknown))}.")
  try:
    entry["phases"] = tuple(Phase(**p) for p in entry["phases"])
    entry["learning_rate"] = LearningRate(**entry["learning_rate"])
    entry["milestones"] = tuple(entry.get("milestones", ()))
    return ModelPlan(**entry)
  except (KeyError, TypeError) as e:
    raise PlanError(f"model {entry.get('name', '?')}: {e}") from None


def parse(content):
  """A Plan from the plan file's JSON object; raises PlanError."""
  try:
    data = Data(**dict(content["data"], train=tuple(content["data"]["train"]),
                       downsample=tuple(content["data"].get(
                           "downsample", Data.downsample))))
    defaults = content.get("defaults", {})
    models = tuple(_model(m, defaults) for m in content["models"])
    extra = {k: content[k] for k in ("checkpoint_minutes",) if k in content}
  except (KeyError, TypeError) as e:
    raise PlanError(f"plan: missing or wrong field ({e}).") from None
  plan = Plan(data, models, **extra)
  check(plan)
  return plan


def check(plan):
  """Raises PlanError for a plan that cannot run as written."""
  names = [m.name for m in plan.models]
  if len(set(names)) != len(names):
    raise PlanError("plan: model names repeat.")
  for model in plan.models:
    where = f"model {model.name}"
    if model.parent is not None:
      if model.parent not in names:
        raise PlanError(f"{where}: parent {model.parent!r} is not in the "
                        "plan.")
      parent = plan.model(model.parent)
      if (parent.filters, parent.gdn) != (model.filters, model.gdn):
        raise PlanError(f"{where}: its parent {parent.name} has other "
                        "filters or another GDN form.")
    if model.gdn not in train_config.GDN_FORMS:
      raise PlanError(f"{where}: gdn must be one of "
                      f"{', '.join(train_config.GDN_FORMS)}.")
    if model.weights not in stored_weights.FORMATS:
      raise PlanError(f"{where}: weights must be one of "
                      f"{', '.join(stored_weights.FORMATS)}.")
    if model.channels not in (1, 3) or model.filters < 1 or model.lmbda <= 0:
      raise PlanError(f"{where}: channels must be 1 or 3, filters and "
                      "lambda positive.")
    if not model.phases or any(p.steps < 1 or p.patchsize % 16
                               for p in model.phases):
      raise PlanError(f"{where}: phases need positive steps and patch "
                      "sizes that are multiples of 16.")
    if not 0 <= model.learning_rate.warmup < model.steps:
      raise PlanError(f"{where}: warmup must be shorter than its steps.")
  order(plan)  # Refuses cycles.


def order(plan):
  """The models, each after its parent."""
  done, ordered = set(), []
  pending = list(plan.models)
  while pending:
    ready = [m for m in pending if m.parent is None or m.parent in done]
    if not ready:
      raise PlanError("plan: the parents form a cycle ("
                      f"{', '.join(m.name for m in pending)}).")
    for model in ready:
      ordered.append(model)
      done.add(model.name)
      pending.remove(model)
  return ordered


def ancestor_steps(plan, name):
  """Steps of the models `name` descends from, all told."""
  steps = 0
  parent = plan.model(name).parent
  while parent:
    steps += plan.model(parent).steps
    parent = plan.model(parent).parent
  return steps


def load(path):
  """The Plan in the JSON file `path`; raises PlanError."""
  try:
    with open(path) as f:
      content = json.load(f)
  except FileNotFoundError:
    raise PlanError(f"{path}: no such plan file.") from None
  except (OSError, ValueError) as e:
    raise PlanError(f"{path}: not a plan file ({e}).") from None
  return parse(content)
