"""Training: Keras fit on R + lambda * D with checkpoints that survive kills."""

import math
import os
import sys
import time

import tensorflow as tf

from bls2017 import data, model_file
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


def train(args):
  """Trains per `args` (see the CLI's train flags); writes args.model_path."""
  if args.seed is not None:
    tf.keras.utils.set_random_seed(args.seed)
  dataset = build_dataset(args, args.seed)
  if args.warm_start:
    model = model_file.load(args.warm_start).model
    model.lmbda = float(args.lmbda)
  else:
    model = BLS2017Model(args.lmbda, args.num_filters, args.channels)
  total_steps = args.epochs * args.steps_per_epoch
  model.compile(optimizer=tf.keras.optimizers.Adam(
      learning_rate(args.learning_rate, args.lr_schedule, total_steps)))
  train_dir = args.train_dir or args.model_path + ".train"
  callbacks = [
      tf.keras.callbacks.TerminateOnNaN(),
      # Checkpoints model, optimizer and step; a restart resumes from here.
      tf.keras.callbacks.BackupAndRestore(
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
  metadata = {
      "command": " ".join(["bls2017"] + sys.argv[1:]),
      "steps": int(model.optimizer.iterations.numpy()),
      "seconds_this_run": round(time.time() - start, 1),
      "final_train_bpp": _last(history, "bpp"),
      "final_train_mse": _last(history, "mse"),
  }
  model_file.save(model, args.model_path, metadata=metadata)
  return model


def _last(history, key):
  values = history.history.get(key)
  return float(values[-1]) if values else None
