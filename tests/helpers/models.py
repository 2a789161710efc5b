"""Tiny untrained model files of each system, and a round trip through the
shared loader."""

import numpy as np
import tensorflow as tf

from bls2017.core import model_file
from bls2017.paper.model import BLS2017Model
from helpers.synthetic import synthetic_image


def make_model_file(path, channels, num_filters=8, seed=0):
  tf.keras.utils.set_random_seed(seed)
  model = BLS2017Model(lmbda=0.01, num_filters=num_filters, channels=channels)
  model_file.save(model, str(path))
  return str(path)


def save_with_fitted_tables(model, path, fitted_tables, seed=0):
  """Writes a related system's untrained model, model() built after seeding
  with `seed`, with its tables fitted_tables(model, batches) on two
  synthetic patches; returns the path."""
  tf.keras.utils.set_random_seed(seed)
  model = model()
  batches = [synthetic_image(32, 48)[None], synthetic_image(40, 32)[None]]
  model_file.save(model, str(path),
                  make_tables=lambda m: fitted_tables(m, batches))
  return str(path)


def load_and_round_trip(path, codec_class, height, width):
  """Opens `path` through the shared loader (which must pick codec_class
  from the file's system) and codes a synthetic image; returns (codec, x,
  bitstream, x_hat) after checking the bitstream's magic and that coding
  again gives the same bytes."""
  from bls2017.core import codec as shared_codec  # pylint: disable=import-outside-toplevel
  codec = shared_codec.load(path)
  assert isinstance(codec, codec_class)
  x = synthetic_image(height, width)
  data = codec.compress(x)
  assert data[:2] == codec.magic and codec.compress(x) == data
  x_hat = codec.decompress(data)
  assert x_hat.shape == x.shape and x_hat.dtype == np.uint8
  return codec, x, data, x_hat
