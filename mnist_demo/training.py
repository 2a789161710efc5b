"""Train, evaluate, sample and export the MNIST model; files in a directory.

A model directory holds `config.json` (lambda, latent_dims, training
record), the trainer's weights (`weights.*`) and the figures.
"""

import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np
import tensorflow as tf

from bls2017.core import images, timing, train_config
from mnist_demo import data, plots
from mnist_demo.model import MNISTCompressionTrainer, make_mnist_codec


class ModelDirError(ValueError):
  """A model directory is missing or incomplete."""


@dataclasses.dataclass
class Config:
  """A `mnist_demo train` (or `sweep`) run: the flags of the same names."""
  output_dir: str = "mnist_out"
  lmbda: float = 2000.
  mnist_dir: Optional[str] = None  # None: tfds.load("mnist").
  epochs: int = 15
  batchsize: int = 128
  latent_dims: int = 50
  learning_rate: float = 1e-3
  train_digits: int = 0  # 0: all 60,000.
  seed: Optional[int] = None
  verbose: int = 1
  command: str = ""  # Recorded in config.json.

  from_flags = classmethod(train_config.from_flags)


def train(config):
  """Trains one model per `config` into config.output_dir; returns its
  record."""
  if config.seed is not None:
    tf.keras.utils.set_random_seed(config.seed)
  training_digits = data.dataset("train", config.mnist_dir)
  if config.train_digits:
    training_digits = training_digits.take(config.train_digits)
  validation = data.dataset("test", config.mnist_dir).batch(config.batchsize)
  trainer = MNISTCompressionTrainer(config.lmbda, config.latent_dims)
  trainer.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
  start = time.time()
  history = trainer.fit(
      training_digits.shuffle(10000, seed=config.seed)
      .batch(config.batchsize).prefetch(8), epochs=config.epochs,
      validation_data=validation.cache(), verbose=config.verbose)
  seconds = time.time() - start
  output_dir = config.output_dir
  os.makedirs(output_dir, exist_ok=True)
  trainer.save_weights(os.path.join(output_dir, "weights"))
  record = {
      "lmbda": config.lmbda, "latent_dims": config.latent_dims,
      "command": config.command,
      "epochs": config.epochs, "seconds": round(seconds, 1),
      "machine": timing.machine(),
      "validation": {"rate": history.history["val_rate"][-1],
                     "distortion": history.history["val_distortion"][-1]},
  }
  with images.atomic_output(os.path.join(output_dir, "config.json")) as f:
    f.write(json.dumps(record, indent=2).encode())
  plots.prior_densities(os.path.join(output_dir, "prior.png"), trainer)
  return record


def load_trainer(model_dir):
  """The trained MNISTCompressionTrainer saved in `model_dir`."""
  try:
    with open(os.path.join(model_dir, "config.json")) as f:
      config = json.load(f)
  except FileNotFoundError:
    raise ModelDirError(
        f"{model_dir}: no trained model there (run `mnist_demo train "
        f"--output_dir={model_dir}` first).") from None
  trainer = MNISTCompressionTrainer(config["lmbda"], config["latent_dims"])
  trainer.load_weights(os.path.join(model_dir, "weights")).expect_partial()
  return trainer


def measure(trainer, digits):
  """Mean string bits, information bits and distortion of a codec on digits.

  The real string is longer than the information content: the range coder
  writes whole bytes and needs a few bits to terminate each string.
  """
  compressor, decompressor = make_mnist_codec(trainer)
  strings, bits = compressor.compress(digits)
  decoded = decompressor.decompress(strings).numpy()
  lengths = [8 * len(s) for s in strings.numpy()]
  return {"string_bits": float(np.mean(lengths)),
          "information_bits": float(np.mean(bits)),
          "distortion": float(np.mean(np.abs(
              decoded.astype(np.float32) - digits) / 255))}


def _test_digits(mnist_dir):
  return np.stack(list(data.dataset("test", mnist_dir).as_numpy_iterator()))


def codec_report(model_dir, mnist_dir, count=16):
  """Compresses test digits; saves the grid figure; returns the figures."""
  trainer = load_trainer(model_dir)
  digits = _test_digits(mnist_dir)
  compressor, decompressor = make_mnist_codec(trainer)
  strings, bits = compressor.compress(digits[:count])
  decoded = decompressor.decompress(strings).numpy()
  figure = plots.codec_grid(os.path.join(model_dir, "codec_grid.png"),
                            digits[:count], strings.numpy(), bits.numpy(),
                            decoded)
  return dict(measure(trainer, digits), strings=list(strings.numpy()),
              bits=list(bits.numpy()), figure=figure)


def sweep(config, lmbdas):
  """Trains one model per lambda, each in a lambda_L directory of
  config.output_dir; plots and records the trade-off there."""
  points = []
  output_dir = config.output_dir
  digits = _test_digits(config.mnist_dir)
  for lmbda in lmbdas:
    model_dir = os.path.join(output_dir, f"lambda_{lmbda:g}")
    record = train(dataclasses.replace(config, lmbda=lmbda,
                                       output_dir=model_dir))
    points.append(dict(measure(load_trainer(model_dir), digits),
                       lmbda=lmbda, seconds=record["seconds"]))
  with images.atomic_output(os.path.join(output_dir, "sweep.json")) as f:
    f.write(json.dumps({"machine": timing.machine(), "points": points},
                       indent=2).encode())
  return points, plots.tradeoff(os.path.join(output_dir, "tradeoff.png"),
                                points)


def sample(model_dir, count, string_bytes, seed):
  """Decodes random strings with the sanity check off: a digit generator."""
  trainer = load_trainer(model_dir)
  _, decompressor = make_mnist_codec(trainer, decode_sanity_check=False)
  rng = np.random.default_rng(seed)
  strings = tf.constant([rng.bytes(string_bytes) for _ in range(count)])
  samples = decompressor.decompress(strings).numpy()
  return plots.digit_grid(os.path.join(model_dir, "samples.png"), samples,
                          f"Digits decoded from random {string_bytes}-byte "
                          "strings")


def export(model_dir):
  """SavedModels of the compressor and decompressor in model_dir/export."""
  compressor, decompressor = make_mnist_codec(load_trainer(model_dir))
  directory = os.path.join(model_dir, "export")
  tf.saved_model.save(compressor, os.path.join(directory, "compressor"),
                      signatures={"serving_default": compressor.compress})
  tf.saved_model.save(decompressor, os.path.join(directory, "decompressor"),
                      signatures={"serving_default": decompressor.decompress})
  return directory
