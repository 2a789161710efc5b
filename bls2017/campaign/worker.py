"""Trains one model of the plan until it is done or its time is up.

    start:  checkpoint in STATE/NAME/ckpt  (exact resume)
            else the committed snapshot SNAPSHOTS/NAME.npz  (its weights)
            else the parent's final model file (warm start)
            else random weights (the plan's seed)
    loop:   batch = patches.batch_at(photos, seed, step)  (a pure function
            of the step), noise = stateless U(-.5, .5) at (seed, step)
            --train_step--> Adam (global_clipnorm, EMA) on R + lambda D
            every few minutes: checkpoint;  at milestones: validate
            at milestones and the last step: validate the training weights
            and their EMA, and keep the better (R + lambda D)
    stop:   checkpoint; snapshot SNAPSHOTS/NAME.npz (a model file of the
            training weights, stored as the plan's `weights` says); when
            done, of the better weights: the final model, validated again
            as float16 to record what its storage costs

Because the batch, the noise and the learning rate are functions of the
step, and the checkpoint holds weights, Adam's moments and the EMA, a run
stopped anywhere and resumed computes what an uninterrupted run does.
A snapshot keeps only the weights (small enough to commit): resuming from
one restarts Adam's moments and the EMA, on the same schedule.
"""

import dataclasses
import os
import signal
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from bls2017.campaign import photos as photos_lib
from bls2017.campaign import plan as plan_lib
from bls2017.campaign import progress
from bls2017.core import evaluation, layers, model_file, patches
from bls2017.paper import codec as paper_codec
from bls2017.paper import train as paper_train
from bls2017.paper.architecture import STRIDE
from bls2017.paper.model import BLS2017Model

LOG_EVERY = 100  # Steps between log lines and progress updates.


class StepSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
  """Warmup then cosine decay (Keras' CosineDecay) at the campaign's step
  variable, not at Adam's iteration count: a run resumed from a snapshot
  restarts Adam (and its bias correction) but not the schedule."""

  def __init__(self, rate, total_steps, step):
    super().__init__()
    self.step = step
    self.cosine = tf.keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=max(1, total_steps - rate.warmup),
        alpha=rate.final, warmup_target=rate.peak,
        warmup_steps=rate.warmup)

  def __call__(self, _):
    return self.cosine(self.step)

  def get_config(self):
    return {}


class Stop:
  """Set by SIGTERM or SIGINT: the loop checkpoints and returns."""

  def __init__(self):
    self.requested = False
    for sig in (signal.SIGTERM, signal.SIGINT):
      signal.signal(sig, self._set)

  def _set(self, *_):
    self.requested = True


class Trainer:
  """The model, optimizer, step and checkpoint of one planned model."""

  def __init__(self, plan_model, state_dir):
    self.plan = plan_model
    tf.keras.utils.set_random_seed(plan_model.seed)
    self.model = BLS2017Model(plan_model.lmbda, plan_model.filters,
                              plan_model.channels, plan_model.gdn)
    layers.set_kernel_by_matmul(self.model)
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.optimizer = tf.keras.optimizers.Adam(
        StepSchedule(plan_model.learning_rate, plan_model.steps, self.step),
        global_clipnorm=plan_model.clipnorm, use_ema=True,
        ema_momentum=plan_model.ema)
    self.optimizer.build(self.model.trainable_variables)
    self.checkpoint = tf.train.Checkpoint(
        model=self.model, optimizer=self.optimizer, step=self.step)
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, os.path.join(state_dir, "ckpt"), max_to_keep=2)
    self.train_step = tf.function(self._train_step, input_signature=[
        tf.TensorSpec((None, None, None, plan_model.channels), tf.uint8)])

  def _train_step(self, x):
    shape = tf.concat([tf.shape(x)[:1], tf.shape(x)[1:3] // STRIDE,
                       [self.plan.filters]], 0)
    noise = tf.random.stateless_uniform(
        shape, seed=tf.stack([tf.constant(self.plan.seed, tf.int64),
                              self.step]), minval=-.5, maxval=.5)
    with tf.GradientTape() as tape:
      bpp, mse = self.model(x, training=True, noise=noise)
      loss = bpp + self.model.lmbda * mse
    variables = self.model.trainable_variables
    gradients = tape.gradient(loss, variables)
    self.optimizer.apply_gradients(zip(gradients, variables))
    self.step.assign_add(1)
    # The norm before clipping: what global_clipnorm is set against.
    return {"loss": loss, "bpp": bpp, "mse": mse,
            "grad_norm": tf.linalg.global_norm(gradients)}

  @property
  def ema_weights(self):
    """The moving averages, in `model.trainable_variables` order."""
    return self.optimizer._model_variables_moving_average  # pylint: disable=protected-access

  def restore_checkpoint(self):
    """Resumes from the latest checkpoint; False if there is none."""
    if not self.manager.latest_checkpoint:
      return False
    self.checkpoint.restore(self.manager.latest_checkpoint).assert_consumed()
    return True

  def start_from_file(self, path, step=0):
    """Starts from a model file's weights (a snapshot, or the parent's
    final model: channels adapted), at `step`; the EMA starts there too."""
    source = model_file.load(path, BLS2017Model)
    paper_train.warm_start(self.model, source.model)
    for average, variable in zip(self.ema_weights,
                                 self.model.trainable_variables):
      average.assign(variable)
    self.step.assign(step)
    return source

  def copy(self, weights):
    """A copy of the model holding the "raw" (training) or "ema" weights:
    saving a model file rounds the model it saves, which must not be the
    one in training."""
    model = BLS2017Model(self.plan.lmbda, self.plan.filters,
                         self.plan.channels, self.plan.gdn)
    source = (self.ema_weights if weights == "ema"
              else self.model.trainable_variables)
    for variable, value in zip(model.trainable_variables, source):
      variable.assign(value)
    return model


def validate(path, image_paths, lmbda):
  """Mean real bpp, PSNR, MS-SSIM (and R + lambda D with them) of the
  model file `path` over `image_paths`, by coding each image."""
  codec = paper_codec.open_model_file(path)
  records = evaluation.evaluate_codec(codec, image_paths, progress=False)
  summary = evaluation.summarize(records)
  mse = np.mean([255 ** 2 / 10 ** (r["psnr"] / 10) for r in records])
  figures = {k: float(summary[k])
             for k in ("bpp", "psnr", "ms_ssim", "ms_ssim_db")}
  figures["loss"] = float(summary["bpp"] + lmbda * mse)
  # MS-SSIM is undefined (NaN) on images under 161 pixels a side.
  return {k: round(v, 5) if np.isfinite(v) else None
          for k, v in figures.items()}


@dataclasses.dataclass
class Context:
  """Where a worker reads and writes, and until when it may run."""
  plan: plan_lib.Plan
  data_dir: str  # The plan's globs and validation folder are under it.
  state_dir: str  # Checkpoints and the photo cache: outside the repository.
  snapshot_dir: str
  progress_path: str
  deadline: float  # Seconds since the epoch.
  log: Callable[[str], None] = print

  def snapshot_path(self, name):
    return os.path.join(self.snapshot_dir, f"{name}.npz")


def start(trainer, ctx):
  """Restores what the run starts from; returns a word saying which."""
  plan_model = trainer.plan
  if trainer.restore_checkpoint():
    return "checkpoint"
  snapshot = ctx.snapshot_path(plan_model.name)
  if os.path.exists(snapshot):
    campaign = model_file.load(snapshot, BLS2017Model).metadata.get(
        "campaign", {})
    trainer.start_from_file(snapshot, campaign.get("step", 0))
    return "snapshot"
  if plan_model.parent:
    parent = ctx.snapshot_path(plan_model.parent)
    if not _is_final(parent):
      raise FileNotFoundError(f"{plan_model.name}: its parent "
                              f"{plan_model.parent} is not finished.")
    trainer.start_from_file(parent)
    return "parent"
  return "random"


def _is_final(path):
  if not os.path.exists(path):
    return False
  return model_file.load(path, BLS2017Model).metadata.get(
      "campaign", {}).get("done", False)


def run(plan_model, ctx, stop=None):
  """Trains `plan_model` until done, ctx.deadline or a stop signal.

  Returns True when the model is done (its final model file written).
  """
  stop = stop or Stop()
  name = plan_model.name
  state = os.path.join(ctx.state_dir, name)
  os.makedirs(state, exist_ok=True)
  arrays = photos_lib.load(
      ctx.data_dir, ctx.plan.data.train, plan_model.channels,
      ctx.plan.data.downsample, max(p.patchsize for p in plan_model.phases),
      plan_model.seed, os.path.join(ctx.state_dir, "cache"))
  weights = patches.area_weights(arrays)
  trainer = Trainer(plan_model, state)
  origin = start(trainer, ctx)
  first = int(trainer.step.numpy())
  ctx.log(f"{name}: from {origin} at step {first} of {plan_model.steps}; "
          f"{len(arrays)} training images")
  with progress.entry(ctx.progress_path, name) as entry:
    entry["status"] = "training"
  valid = evaluation.image_paths(os.path.join(ctx.data_dir,
                                              ctx.plan.data.valid))
  started = last_save = time.time()
  final = None
  window = _LogWindow()
  step = first
  while (step < plan_model.steps and time.time() < ctx.deadline
         and not stop.requested):
    phase = plan_model.phase_at(step)
    batch = patches.batch_at(arrays, weights, phase.patchsize,
                             plan_model.batchsize, plan_model.seed, step)
    terms = trainer.train_step(tf.constant(batch))
    step += 1
    window.add(terms)
    if not np.isfinite(float(terms["loss"])):
      raise FloatingPointError(
          f"{name}: the loss became NaN or Inf at step {step}; the last "
          f"good checkpoint is in {state}/ckpt.")
    if step % LOG_EVERY == 0 or step == plan_model.steps:
      # The first window of a run includes tracing the step: not timed.
      window.report(ctx, plan_model, step, phase.patchsize,
                    timed=step - first > LOG_EVERY)
    if time.time() - last_save > ctx.plan.checkpoint_minutes * 60:
      trainer.manager.save()
      last_save = time.time()
    if step in plan_model.milestones or step == plan_model.steps:
      final = _milestone(trainer, ctx, state, valid, step, started)
      window.restart_clock()
  trainer.manager.save()
  hours = (time.time() - started) / 3600
  done = step >= plan_model.steps
  if done and step == first:  # Resumed at the end: validate it now.
    final = _milestone(trainer, ctx, state, valid, step, started)
  _snapshot(trainer, ctx, origin, first, step, hours, done,
            final if done else None)
  how = "done" if done else "to be resumed"
  ctx.log(f"{name}: stopped at step {step} ({how}), {hours:.2f} h this run")
  return done


def store_again(plan_model, ctx):
  """Writes a finished model's final file again from its checkpoint, its
  weights stored as the storage rules (`stored_weights`) now say, and
  validates it again (both weights, and the better as float16: the final
  validation record is replaced). Returns the better weights' name.

  For a model finished before a rule changed: its snapshot is rounded
  from the float weights, not from the weights stored before."""
  state = os.path.join(ctx.state_dir, plan_model.name)
  trainer = Trainer(plan_model, state)
  path = ctx.snapshot_path(plan_model.name)
  if not (trainer.restore_checkpoint() and _is_final(path)
          and int(trainer.step.numpy()) == plan_model.steps):
    raise FileNotFoundError(
        f"{plan_model.name}: no finished model with its final checkpoint "
        f"in {state}.")
  valid = evaluation.image_paths(os.path.join(ctx.data_dir,
                                              ctx.plan.data.valid))
  best, _ = _milestone(trainer, ctx, state, valid, plan_model.steps, None)
  metadata = model_file.load(path, BLS2017Model).metadata
  metadata["campaign"]["weights"] = best
  model_file.save(trainer.copy(best), path, dtype=plan_model.weights,
                  metadata=metadata)
  ctx.log(f"{plan_model.name}: stored again ({best} weights) in {path}")
  return best


class _LogWindow:
  """The mean training terms and seconds per step since the last report:
  logged, and recorded in the progress file."""

  def __init__(self):
    self._reset()

  def _reset(self):
    self.sums, self.count = {}, 0
    self.restart_clock()

  def restart_clock(self):
    self.tick = time.perf_counter()

  def add(self, terms):
    for key, value in terms.items():
      self.sums[key] = self.sums.get(key, 0.0) + float(value)
    self.count += 1

  def report(self, ctx, plan_model, step, patchsize, timed):
    seconds = (time.perf_counter() - self.tick) / self.count
    means = {k: v / self.count for k, v in self.sums.items()}
    ctx.log(f"{plan_model.name} step {step}/{plan_model.steps} loss "
            f"{means['loss']:.4f} bpp {means['bpp']:.4f} mse "
            f"{means['mse']:.2f} gradient norm {means['grad_norm']:.1f} "
            f"({seconds:.3f} s/step)")
    with progress.entry(ctx.progress_path, plan_model.name) as entry:
      entry["steps"] = step
      entry["train"] = {"step": step} | {k: round(v, 5)
                                         for k, v in means.items()}
      if timed:
        entry["seconds_per_step"][str(patchsize)] = round(seconds, 4)
    self._reset()


WEIGHTS = ("raw", "ema")  # The training weights and their moving average.


def _milestone(trainer, ctx, state, valid, step, run_started):
  """Validates both weights at `step` and records the figures of each and,
  at the top, of the better by R + lambda D (with the model's training
  hours: earlier runs' and this run's since run_started; None: the
  entry's hours are up to date). Returns the better's name and its file.

  Early on the average lags far behind weights that still move fast, so
  which is better is measured, not assumed.
  """
  figures, paths = {}, {}
  for weights in WEIGHTS:
    paths[weights] = os.path.join(state, f"step-{step}-{weights}.npz")
    model_file.save(trainer.copy(weights), paths[weights],
                    dtype=trainer.plan.weights)
    figures[weights] = validate(paths[weights], valid, trainer.plan.lmbda)
  best = min(WEIGHTS, key=lambda w: figures[w]["loss"])
  if step >= trainer.plan.steps and trainer.plan.weights != "float16":
    figures[best] = _with_storage_cost(trainer, state, valid, step, best,
                                       figures[best])
  ctx.log(f"{trainer.plan.name} step {step} validation: {figures}")
  with progress.entry(ctx.progress_path, trainer.plan.name) as entry:
    entry["validation"] = [v for v in entry["validation"]
                           if v["step"] != step]
    hours = entry["hours"] + (
        (time.time() - run_started) / 3600 if run_started else 0)
    entry["validation"].append({"step": step, "hours": round(hours, 3),
                                "weights": best} | figures[best] | figures)
    entry["validation"].sort(key=lambda v: v["step"])
  return best, paths[best]


def _with_storage_cost(trainer, state, valid, step, weights, figures):
  """`figures` of the final model with what its storage costs: the same
  weights validated again as float16, and the PSNR and bpp differences."""
  path = os.path.join(state, f"step-{step}-{weights}-float16.npz")
  model_file.save(trainer.copy(weights), path, dtype="float16")
  half = validate(path, valid, trainer.plan.lmbda)
  return dict(figures, float16=half, storage_cost_db=round(
      figures["psnr"] - half["psnr"], 5), storage_bpp_change_percent=round(
          100 * (figures["bpp"] / half["bpp"] - 1), 4))


def _snapshot(trainer, ctx, origin, first, step, hours, done, final=None):
  """Writes the snapshot beside the plan, and records the run (`origin`:
  what it started from at step `first`, as `start()` says): the training
  weights to resume from or, when done, the final model (`final`: the
  better weights' name and model file, from `_milestone`)."""
  plan_model = trainer.plan
  path = ctx.snapshot_path(plan_model.name)
  os.makedirs(ctx.snapshot_dir, exist_ok=True)
  machine = progress.machine()
  with progress.entry(ctx.progress_path, plan_model.name) as entry:
    total_hours = round(entry["hours"] + hours, 3)
    metadata = {"campaign": {"name": plan_model.name, "step": step,
                             "done": done, "hours": total_hours},
                "command": "python -m bls2017.campaign run: "
                           f"{plan_model.name} of campaign/plan.json",
                "steps": step,
                "total_steps": step + plan_lib.ancestor_steps(
                    ctx.plan, plan_model.name)}
    if plan_model.parent:
      metadata["warm_start"] = {"model": f"{plan_model.parent}.npz"}
    weights = final[0] if final else "raw"
    metadata["campaign"]["weights"] = weights
    # Saved again (not copied) to record the metadata; the same weights.
    model_file.save(trainer.copy(weights), path, dtype=plan_model.weights,
                    metadata=metadata)
    entry.update(steps=step, hours=total_hours,
                 status="done" if done else "training",
                 snapshot={"file": os.path.basename(path), "step": step})
    # "snapshot" says the run's optimizer state started afresh.
    entry["runs"].append({"start": origin, "from_step": first,
                          "to_step": step, "hours": round(hours, 3),
                          "machine": machine})
