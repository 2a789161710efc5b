"""The transforms and the training objective."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from bls2017.core import data
from bls2017.paper.model import BLS2017Model
from helpers.synthetic import synthetic_image


@pytest.mark.parametrize("height,width", [(16, 16), (37, 51), (1, 1),
                                          (64, 17)])
@pytest.mark.parametrize("channels", [1, 3])
def test_transform_shapes(height, width, channels):
  model = BLS2017Model(num_filters=8, channels=channels)
  x = tf.zeros((2, height, width, channels))
  y = model.g_a(x)
  assert y.shape == (2, -(-height // 16), -(-width // 16), 8)
  x_hat = model.g_s(y)
  assert x_hat.shape == (2, y.shape[1] * 16, y.shape[2] * 16, channels)
  assert y.dtype == x_hat.dtype == tf.float32


def test_gdn_in_analysis_and_igdn_in_synthesis():
  model = BLS2017Model(num_filters=8)
  gdns = [l.activation for l in model.g_a.layers
          if isinstance(getattr(l, "activation", None), tfc.GDN)]
  igdns = [l.activation for l in model.g_s.layers
           if isinstance(getattr(l, "activation", None), tfc.GDN)]
  assert len(gdns) == 2 and not any(g.inverse for g in gdns)
  assert len(igdns) == 2 and all(g.inverse for g in igdns)
  # The last analysis stage and the last synthesis stage are linear.
  assert not isinstance(model.g_a.layers[-1].activation, tfc.GDN)
  assert not isinstance(model.g_s.layers[-2].activation, tfc.GDN)


def test_paper_architecture_strides_and_kernels():
  model = BLS2017Model(num_filters=8)
  convs = [l for l in model.g_a.layers if isinstance(l, tfc.SignalConv2D)]
  assert [c.kernel_support for c in convs] == [(9, 9), (5, 5), (5, 5)]
  assert [c.strides_down for c in convs] == [(4, 4), (2, 2), (2, 2)]


def _train_bpp(lmbda, steps=60):
  """Bit rate on fixed images after training a tiny model with `lmbda`."""
  tf.keras.utils.set_random_seed(3)
  arrays = [synthetic_image(96, 96), synthetic_image(80, 112)[:, ::-1].copy()]
  dataset = data.patch_dataset(arrays, 64, 4, seed=3)
  model = BLS2017Model(lmbda=lmbda, num_filters=16)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-3))
  model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
  bpp, mse = model(np.stack([a[:64, :64] for a in arrays]))
  return float(bpp), float(mse)


@pytest.mark.slow
def test_rate_is_finite_and_falls_with_lambda():
  bpp_low, mse_low = _train_bpp(lmbda=0.0001)
  bpp_high, mse_high = _train_bpp(lmbda=0.1)
  assert np.isfinite([bpp_low, bpp_high, mse_low, mse_high]).all()
  assert bpp_low < bpp_high
  assert mse_low > mse_high
