"""PSNR, SSIM and MS-SSIM: the one-graph forms against tf.image and a
float64 reference."""

import numpy as np
import pytest
import tensorflow as tf
from numpy.lib.stride_tricks import sliding_window_view

from bls2017.core import metrics


def _pair(shape, noise, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.integers(0, 256, shape).astype(np.uint8)
  # Smooth it a little, so that SSIM is not dominated by the noise alone.
  x = ((x.astype(np.float64) + np.roll(x, 1, 0) + np.roll(x, 1, 1)) / 3
       ).astype(np.uint8)
  x_hat = np.clip(x + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
  return x, x_hat


def _ssim_float64(x, y):
  """SSIM of Wang et al. (2004), Gaussian window, valid positions."""
  offsets = np.arange(11) - 5
  taps = np.exp(-0.5 * offsets ** 2 / 1.5 ** 2)
  taps /= taps.sum()

  def blur(a):
    return sliding_window_view(
        sliding_window_view(a, 11, axis=0) @ taps, 11, axis=1) @ taps

  x, y = x.astype(np.float64), y.astype(np.float64)
  c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
  mx, my = blur(x), blur(y)
  luminance = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
  contrast = ((2 * blur(x * y) - 2 * mx * my + c2) /
              (blur(x * x + y * y) - mx ** 2 - my ** 2 + c2))
  return (luminance * contrast).mean()


@pytest.mark.parametrize("shape", [(163, 170, 3), (200, 161, 1),
                                   (331, 255, 3)])
def test_the_same_as_tf_image(shape):
  x, x_hat = _pair(shape, 12)
  q = metrics.quality(x, x_hat)
  a, b = tf.constant(x, tf.float32), tf.constant(x_hat, tf.float32)
  assert q["psnr"] == float(tf.image.psnr(a, b, 255))
  assert q["ssim"] == pytest.approx(float(tf.image.ssim(a, b, 255)),
                                    abs=2e-4)
  assert q["ms_ssim"] == pytest.approx(
      float(tf.image.ssim_multiscale(a, b, 255)), abs=2e-5)
  assert q["ms_ssim_db"] == metrics.ms_ssim_db(q["ms_ssim"])


@pytest.mark.parametrize("shape", [(48, 64, 3), (321, 481, 3)])
def test_ssim_is_within_float64_reach(shape):
  x, x_hat = _pair(shape, 20)
  assert metrics.ssim(x, x_hat) == pytest.approx(_ssim_float64(x, x_hat),
                                                 abs=1e-6)


def test_what_is_too_small_is_nan():
  x, x_hat = _pair((160, 200, 3), 5)
  q = metrics.quality(x, x_hat)  # SSIM yes, MS-SSIM needs 161 a side.
  assert q["ssim"] > 0 and np.isnan(q["ms_ssim"]) and np.isnan(
      q["ms_ssim_db"])
  small = metrics.quality(x[:10], x_hat[:10])
  assert small["psnr"] > 0 and np.isnan(small["ssim"])


def test_quality_falls_with_noise():
  values = [metrics.quality(*_pair((170, 180, 3), noise))
            for noise in (1, 4, 16)]
  for key in ("psnr", "ssim", "ms_ssim"):
    assert values[0][key] > values[1][key] > values[2][key], key
