"""Image quality metrics on the 0..255 scale: PSNR, SSIM and MS-SSIM.

SSIM and MS-SSIM are defined as `tf.image.ssim` and `tf.image.ssim_multiscale`
define them (Wang et al. 2004 and 2003: 11x11 Gaussian window of sigma 1.5,
k1 = 0.01, k2 = 0.03, five scales with the published weights, mean over
channels; tests hold them to those functions and to a float64 reference).
They are computed here, in one graph, because the library's form took most
of an evaluation's time (about 15x slower at 768x512 on 2 cores):

    x, x_hat --+-- PSNR (tf.image.psnr)
               +-- scale 1: local means and (co)variances -> l, cs -> SSIM
               +-- 2x2 average (odd sides padded symmetrically), scales 2..5
                   -> cs, ..., cs, l*cs -> MS-SSIM (weighted product)

- tf.image filters with an 11x11 depthwise convolution; its Gaussian is the
  outer product of a 1-D one, so two 11-tap passes give the same sums in
  about a fifth of the time (and nearer float64's: within 1e-6 of it, where
  tf.image's float32 SSIM is about 1e-3 off on noisy 768x512 images);
- SSIM is MS-SSIM's first scale, which tf.image computes twice when both
  are asked for.
"""

import functools
import math

import numpy as np
import tensorflow as tf

# tf.image.ssim's 11-tap Gaussian filter needs 11 pixels a side; its
# multiscale form, with five scales, (11 - 1) * 2**4 + 1.
SSIM_MIN_SIDE = 11
MS_SSIM_MIN_SIDE = 161

FILTER_SIZE = 11
FILTER_SIGMA = 1.5
K1, K2 = 0.01, 0.03
# MS-SSIM's scale weights (Wang, Simoncelli and Bovik 2003), as tf.image's.
POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MAX_VAL = 255.


def psnr(x, x_hat):
  """PSNR in dB of uint8 images [H, W, C] (over all channels)."""
  return quality(x, x_hat)["psnr"]


def ssim(x, x_hat):
  """SSIM of uint8 images [H, W, C], or NaN if a side is under 11 px."""
  return quality(x, x_hat)["ssim"]


def ms_ssim(x, x_hat):
  """MS-SSIM of uint8 images [H, W, C], or NaN if a side is under 161 px."""
  return quality(x, x_hat)["ms_ssim"]


def ms_ssim_db(value):
  """MS-SSIM as -10 log10(1 - MS-SSIM), which spreads out high qualities."""
  if not value < 1:
    return float("inf") if value == 1 else float("nan")
  return -10 * math.log10(1 - value)


def bpp(num_bytes, x):
  """Bits per pixel of a file of `num_bytes` for image x [H, W, C]."""
  return 8 * num_bytes / (np.shape(x)[0] * np.shape(x)[1])


def quality(x, x_hat):
  """{"psnr", "ssim", "ms_ssim", "ms_ssim_db"} of images [H, W, C] on the
  0..255 scale; SSIM and MS-SSIM are NaN where a side is too small."""
  side = min(np.shape(x)[:2])
  scales = (len(POWER_FACTORS) if side >= MS_SSIM_MIN_SIDE
            else 1 if side >= SSIM_MIN_SIDE else 0)
  values = [float(v) for v in _scores(scales)(_float(x), _float(x_hat))]
  values += [float("nan")] * (3 - len(values))
  return {"psnr": values[0], "ssim": values[1], "ms_ssim": values[2],
          "ms_ssim_db": ms_ssim_db(values[2])}


def _float(x):
  return tf.cast(tf.convert_to_tensor(x), tf.float32)


@functools.lru_cache(maxsize=None)
def _scores(scales):
  """A graph of (PSNR[, SSIM[, MS-SSIM]]) for 0, 1 or 5 SSIM scales."""
  spec = tf.TensorSpec([None, None, None], tf.float32)

  @tf.function(input_signature=(spec, spec))
  def scores(x, x_hat):
    values = [tf.image.psnr(x, x_hat, MAX_VAL)]
    if not scales:
      return values
    contrasts = []
    for scale in range(scales):
      if scale:
        x, x_hat = _halve(x), _halve(x_hat)
      luminance, contrast = _ssim_terms(x, x_hat)
      contrasts.append(tf.nn.relu(tf.reduce_mean(contrast, axis=(0, 1))))
      if not scale:
        values.append(tf.reduce_mean(luminance * contrast))
    if scales > 1:
      # The last scale weighs SSIM (luminance too), the others contrast.
      last = tf.nn.relu(tf.reduce_mean(luminance * contrast, axis=(0, 1)))
      terms = tf.stack(contrasts[:-1] + [last], axis=-1)
      values.append(tf.reduce_mean(tf.reduce_prod(terms ** POWER_FACTORS,
                                                  axis=-1)))
    return values

  return scores


def _gaussian_taps():
  """The 1-D factor of tf.image's normalized 11x11 Gaussian window."""
  offsets = np.arange(FILTER_SIZE) - (FILTER_SIZE - 1) / 2
  taps = np.exp(-0.5 * offsets ** 2 / FILTER_SIGMA ** 2)
  return (taps / taps.sum()).astype(np.float32)


def _blur(image):
  """Gaussian-weighted local means of [H, W, C] (valid positions only)."""
  channels = tf.shape(image)[-1]
  taps = tf.constant(_gaussian_taps())
  rows = tf.tile(tf.reshape(taps, [FILTER_SIZE, 1, 1, 1]), [1, 1, channels, 1])
  columns = tf.reshape(rows, [1, FILTER_SIZE, channels, 1])
  blurred = tf.nn.depthwise_conv2d(image[None], rows, [1, 1, 1, 1], "VALID")
  return tf.nn.depthwise_conv2d(blurred, columns, [1, 1, 1, 1], "VALID")[0]


def _ssim_terms(x, y):
  """Luminance and contrast-structure maps [H', W', C] of SSIM."""
  c1, c2 = (K1 * MAX_VAL) ** 2, (K2 * MAX_VAL) ** 2
  # One blur of all four local moments: the depthwise convolution is
  # faster on 4C channels at once than on C channels four times.
  moments = tf.concat([x, y, x * y, tf.square(x) + tf.square(y)], axis=-1)
  mean_x, mean_y, mean_xy, mean_squares_sum = tf.split(_blur(moments), 4,
                                                       axis=-1)
  mean_products = 2 * mean_x * mean_y
  mean_squares = tf.square(mean_x) + tf.square(mean_y)
  luminance = (mean_products + c1) / (mean_squares + c1)
  covariance = 2 * mean_xy - mean_products
  variances = mean_squares_sum - mean_squares
  contrast = (covariance + c2) / (variances + c2)
  return luminance, contrast


def _halve(image):
  """2x2 average, an odd last row or column repeated first (as tf.image)."""
  shape = tf.shape(image)
  padding = [[0, shape[0] % 2], [0, shape[1] % 2], [0, 0]]
  padded = tf.pad(image, padding, mode="SYMMETRIC")
  return tf.nn.avg_pool2d(padded[None], 2, 2, "VALID")[0]
