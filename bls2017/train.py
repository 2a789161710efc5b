"""Training: Keras fit on R + lambda * D with checkpoints that survive kills."""

import math
import os
import sys
import time

import numpy as np
import tensorflow as tf

from bls2017 import data, model_file, train_config
from bls2017.model import BLS2017Model


def learning_rate(peak, schedule, total_steps):
  """Constant, or cosine decay from `peak` to peak/100 over training."""
  if schedule == "constant":
    return peak
  if schedule == "cosine":
    return tf.keras.optimizers.schedules.CosineDecay(
        peak, decay_steps=max(total_steps, 1), alpha=0.01)
  raise ValueError(f"Unknown learning-rate schedule {schedule!r}.")


def build_dataset(args, seed=None):
  if args.train_glob:
    arrays = data.load_images(args.train_glob, args.channels, args.patchsize)
    return data.patch_dataset(arrays, args.patchsize, args.batchsize, seed)
  return data.tfds_dataset(args.tfds_dataset_name, "train", args.patchsize,
                           args.batchsize, args.channels)


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


def warm_start(model, source):
  """Copies `source`'s coding variables into `model`, adapting channels.

  The filter counts must match. When the channel counts differ (an RGB
  model starting a grayscale one, or the reverse), g_a's first kernel is
  summed over the source's input channels -- a gray image replicated to RGB
  gives exactly that response -- and g_s's last kernel and bias are
  averaged over its output channels (gray as the mean of R, G and B); then
  each is spread evenly over the target's channels. The RDFT kernel
  parameters are linear in the kernel, so this is done on them directly.
  """
  if model.num_filters != source.num_filters:
    raise model_file.ModelFileError(
        f"--warm_start model has {source.num_filters} filters, this one "
        f"{model.num_filters}; they must match.")
  analysis = {id(v) for v in model.g_a.weights}
  for target, value in zip(model.coding_variables, source.coding_variables):
    value = value.numpy()
    if value.shape != target.shape:
      axis = [a for a, (m, n) in enumerate(zip(value.shape, target.shape))
              if m != n][0]
      if id(target) in analysis:  # Input channels: sum, then share out.
        value = value.sum(axis, keepdims=True) / target.shape[axis]
      else:  # Output channels: average.
        value = value.mean(axis, keepdims=True)
      value = np.repeat(value, target.shape[axis], axis)
    target.assign(value)


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


def train(args):
  """Trains per `args` (see the CLI's train flags); writes args.model_path."""
  if args.seed is not None:
    tf.keras.utils.set_random_seed(args.seed)
  dataset = build_dataset(args, args.seed)
  source = model_file.load(args.warm_start) if args.warm_start else None
  strategy = distribution_strategy(args.strategy)
  with strategy.scope():
    model = BLS2017Model(args.lmbda, args.num_filters, args.channels)
    if source:
      warm_start(model, source.model)
    compile_adam(model, args)
  metadata = {"replicas": strategy.num_replicas_in_sync}
  if source:
    earlier = source.metadata.get("total_steps", source.metadata.get("steps"))
    metadata["warm_start"] = {
        "model": os.path.basename(args.warm_start),
        "fingerprint": source.fingerprint.hex(), "steps": earlier}
  return fit_and_save(model, args, dataset, "bls2017", metadata,
                      earlier_steps=earlier if source else 0)


def compile_adam(model, args):
  model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate(
      args.learning_rate, args.lr_schedule,
      args.epochs * args.steps_per_epoch)))


def fit_and_save(model, args, dataset, program, metadata=None,
                 make_tables=None, earlier_steps=0):
  """Fits a compiled model with resumable checkpoints; writes its file.

  Shared by every system: checkpoints in --train_dir resume a killed run, a
  NaN loss stops with the last good checkpoint kept, and the model file
  records the command, steps and final training figures.
  make_tables(model): the system's range-coding tables (model_file.save).
  """
  train_dir = args.train_dir or args.model_path + ".train"
  callbacks = [
      tf.keras.callbacks.TerminateOnNaN(),
      # Checkpoints model, optimizer and step; a restart resumes from here.
      FiniteBackupAndRestore(
          os.path.join(train_dir, "backup"),
          save_freq=args.checkpoint_every, delete_checkpoint=False),
      tf.keras.callbacks.TensorBoard(
          os.path.join(train_dir, "logs"), update_freq=100),
  ]
  start = time.time()
  history = model.fit(
      dataset, epochs=args.epochs,
      steps_per_epoch=args.steps_per_epoch, callbacks=callbacks,
      verbose=args.verbose)
  losses = history.history.get("loss", [])
  if losses and not math.isfinite(losses[-1]):
    raise FloatingPointError(
        "Training stopped: the loss became NaN or Inf. The last good "
        f"checkpoint is in {train_dir}/backup; lower --learning_rate.")
  steps = int(model.optimizer.iterations.numpy())
  metadata = dict(
      metadata or {}, command=" ".join([program] + sys.argv[1:]),
      steps=steps, seconds_this_run=round(time.time() - start, 1),
      **{f"final_train_{k}": float(v[-1])
         for k, v in history.history.items() if v})
  if earlier_steps:
    metadata["total_steps"] = steps + earlier_steps
  model_file.save(model, args.model_path, metadata=metadata,
                  make_tables=make_tables)
  return model
