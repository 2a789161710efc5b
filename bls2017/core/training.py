"""Training: Keras fit on R + lambda * D with checkpoints that survive kills.

Every system's `train` command fills in its config (a
`train_config.KerasTrainConfig`) and runs the one outline, `train`, with
its model and its `Hooks`:

    config --dataset--> patches; build_model() --warm start, compile-->
    model.fit (Adam, checkpoints) --model_file.save (weights, the
    system's tables)--> MODEL_PATH
"""

import dataclasses
import math
import os
import time
from typing import Callable, Optional, Sequence

import tensorflow as tf

from bls2017.core import data, model_file, train_config


def learning_rate(peak, schedule, total_steps):
  """Constant, or cosine decay from `peak` to peak/100 over training
  ("plateau" starts constant; `plateau_halving` lowers it)."""
  if schedule in ("constant", "plateau"):
    return peak
  if schedule == "cosine":
    return tf.keras.optimizers.schedules.CosineDecay(
        peak, decay_steps=max(total_steps, 1), alpha=0.01)
  raise ValueError(f"Unknown learning-rate schedule {schedule!r}.")


def build_dataset(config, seed=None):
  """Batches of random patches of config.train_glob's images (decoded once),
  or of the TFDS dataset config.tfds_dataset_name."""
  if config.train_glob:
    arrays = data.load_images(config.train_glob, config.channels,
                              config.patchsize)
    dataset = data.patch_dataset(arrays, config.patchsize, config.batchsize,
                                 seed)
  else:
    dataset = data.tfds_dataset(config.tfds_dataset_name, "train",
                                config.patchsize, config.batchsize,
                                config.channels)
  return dataset.map(random_flips) if config.flips else dataset


def random_flips(batch):
  """Each patch of a batch [B, H, W, C] flipped left-right and up-down,
  each with probability 1/2."""
  return tf.image.random_flip_up_down(tf.image.random_flip_left_right(batch))


def plateau_halving(config):
  """Halves the learning rate when the training loss has not fallen for
  config.plateau_patience epochs, down to 1 % of the peak. (Its count of
  epochs starts again when a killed run resumes.)"""
  return tf.keras.callbacks.ReduceLROnPlateau(
      monitor="loss", factor=0.5, patience=config.plateau_patience,
      min_lr=config.learning_rate / 100)


STRATEGIES = train_config.STRATEGIES


def distribution_strategy(name):
  """A tf.distribute strategy by name.

  one_device: TensorFlow's default placement (the first GPU if there is
  one, else the CPU); it is the default strategy rather than
  OneDeviceStrategy, which Keras' BackupAndRestore refuses. mirrored: data
  parallel over all local GPUs or, without GPUs, over all logical CPU
  devices (useful only to test it). multi_worker: synchronous data parallel
  over the workers that the TF_CONFIG environment variable describes.
  """
  if name == "one_device":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    devices = (tf.config.list_logical_devices("GPU") or
               tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"Unknown strategy {name!r} (known: {STRATEGIES}).")


class FiniteBackupAndRestore(tf.keras.callbacks.BackupAndRestore):
  """BackupAndRestore that never overwrites a checkpoint with a NaN state.

  A non-finite loss has already been applied to the weights when the
  batch ends; saving then would replace the last good checkpoint.
  """

  def on_train_batch_end(self, batch, logs=None):
    if _finite(logs):
      super().on_train_batch_end(batch, logs)

  def on_epoch_end(self, epoch, logs=None):
    if _finite(logs):
      super().on_epoch_end(epoch, logs)


def _finite(logs):
  return math.isfinite(float((logs or {}).get("loss", 0.0)))


@dataclasses.dataclass
class Hooks:
  """What a system adds to the one training outline (`train`).

  dataset(config): batches to fit on; default `build_dataset`.
  warm_start(model, source_model): copies a loaded model's weights into
    the new one; default `copy_weights` (same shapes only). It raises
    model_file.ModelFileError naming what differs.
  prepare(model): before compiling, e.g. the paper's kernels by matmul.
  callbacks: the system's Keras callbacks, run after the checkpoint's
    restore.
  metadata: recorded in the model file beside the run's own record.
  """
  dataset: Optional[Callable] = None
  warm_start: Optional[Callable] = None
  prepare: Optional[Callable] = None
  callbacks: Sequence = ()
  metadata: Optional[dict] = None


def train(config, build_model, build_tables=None, hooks=None):
  """Every system's training run, in one outline:

      seed --> hooks.dataset --> build_model() in the strategy's scope
      --warm start from config.warm_start (hooks.warm_start)--> prepare,
      compile (Adam) --> fit_and_save: checkpoints, model file with
      build_tables(model, dataset) (None: the model's own coding_tables)

  Returns the trained model.
  """
  hooks = hooks or Hooks()
  if config.seed is not None:
    tf.keras.utils.set_random_seed(config.seed)
  dataset = (hooks.dataset or (lambda c: build_dataset(c, c.seed)))(config)
  strategy = distribution_strategy(config.strategy)
  with strategy.scope():
    model = build_model()
  source = (model_file.load(config.warm_start, type(model))
            if config.warm_start else None)
  with strategy.scope():
    if source:
      try:
        (hooks.warm_start or copy_weights)(model, source.model)
      except model_file.ModelFileError as e:
        raise model_file.ModelFileError(
            f"--warm_start {config.warm_start}: {e}") from None
    if hooks.prepare:
      hooks.prepare(model)
    compile_adam(model, config)
  make_tables = build_tables and (lambda m: build_tables(m, dataset))
  return fit_and_save(
      model, config, dataset,
      metadata=dict(hooks.metadata or {},
                    replicas=strategy.num_replicas_in_sync),
      make_tables=make_tables, source=source,
      system_callbacks=hooks.callbacks)


def copy_weights(model, source):
  """Each coding variable of `model` takes `source`'s of the same shape;
  ModelFileError names the settings that differ when the shapes do not
  fit. (The paper's warm start also adapts channel counts.)"""
  targets, weights = model.coding_variables, source.coding_variables
  if [v.shape for v in targets] != [w.shape for w in weights]:
    ours, theirs = model.get_config(), source.get_config()
    differ = ", ".join(f"{k}={theirs.get(k)} (here {ours.get(k)})"
                       for k in sorted(set(ours) | set(theirs))
                       if ours.get(k) != theirs.get(k))
    raise model_file.ModelFileError(
        f"its weights do not fit this model (it has {differ}).")
  for target, weight in zip(targets, weights):
    target.assign(weight)


def compile_adam(model, config):
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate(
      config.learning_rate, config.lr_schedule, config.total_steps)))


def fit_and_save(model, config, dataset, metadata=None, make_tables=None,
                 source=None, system_callbacks=()):
  """Fits a compiled model with resumable checkpoints; writes its file.

  Shared by every system: checkpoints in config.train_dir resume a killed
  run, a NaN loss stops with the last good checkpoint kept, and the model
  file records config.command, the steps and the final training figures.
  make_tables(model): the system's range-coding tables (model_file.save).
  source: the loaded model file the model was warm-started from; its name,
    fingerprint and steps are recorded, and "total_steps" counts them.
  system_callbacks: a system's own, run after the checkpoint's restore.
  """
  train_dir = config.train_dir
  callbacks = [
      tf.keras.callbacks.TerminateOnNaN(),
      # Checkpoints model, optimizer and step; a restart resumes from here.
      FiniteBackupAndRestore(
          os.path.join(train_dir, "backup"),
          save_freq=config.checkpoint_every, delete_checkpoint=False),
      tf.keras.callbacks.TensorBoard(
          os.path.join(train_dir, "logs"), update_freq=100),
  ]
  if config.lr_schedule == "plateau":
    callbacks.append(plateau_halving(config))
  callbacks.extend(system_callbacks)
  start = time.time()
  history = model.fit(
      dataset, epochs=config.epochs,
      steps_per_epoch=config.steps_per_epoch, callbacks=callbacks,
      verbose=config.verbose)
  losses = history.history.get("loss", [])
  if losses and not math.isfinite(losses[-1]):
    raise FloatingPointError(
        "Training stopped: the loss became NaN or Inf. The last good "
        f"checkpoint is in {train_dir}/backup; lower --learning_rate.")
  steps = int(model.optimizer.iterations.numpy())
  metadata = dict(
      metadata or {}, command=config.command,
      steps=steps, seconds_this_run=round(time.time() - start, 1),
      **{f"final_train_{k}": float(v[-1])
         for k, v in history.history.items() if v})
  if source:
    earlier = source.metadata.get("total_steps",
                                  source.metadata.get("steps"))
    metadata["warm_start"] = {
        "model": os.path.basename(config.warm_start),
        "fingerprint": source.fingerprint.hex(), "steps": earlier}
    if earlier:
      metadata["total_steps"] = steps + earlier
  model_file.save(model, config.model_path, metadata=metadata,
                  make_tables=make_tables)
  return model
