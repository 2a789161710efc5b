"""Image quality metrics on the 0..255 scale, via tf.image."""

import math

import numpy as np
import tensorflow as tf

# tf.image.ssim's 11-tap Gaussian filter needs 11 pixels a side; its
# multiscale form, with five scales, (11 - 1) * 2**4 + 1.
SSIM_MIN_SIDE = 11
MS_SSIM_MIN_SIDE = 161


def psnr(x, x_hat):
  """PSNR in dB of uint8 images [H, W, C] (over all channels)."""
  return float(tf.image.psnr(_float(x), _float(x_hat), max_val=255))


def ssim(x, x_hat):
  """SSIM (Wang et al. 2004; tf.image.ssim, 11x11 Gaussian window, mean over
  channels) of uint8 images [H, W, C], or NaN if a side is too small."""
  if min(np.shape(x)[:2]) < SSIM_MIN_SIDE:
    return float("nan")
  return float(tf.image.ssim(_float(x), _float(x_hat), 255))


def ms_ssim(x, x_hat):
  """MS-SSIM of uint8 images [H, W, C], or NaN if a side is too small."""
  if min(np.shape(x)[:2]) < MS_SSIM_MIN_SIDE:
    return float("nan")
  return float(tf.image.ssim_multiscale(_float(x), _float(x_hat), 255))


def ms_ssim_db(value):
  """MS-SSIM as -10 log10(1 - MS-SSIM), which spreads out high qualities."""
  if not value < 1:
    return float("inf") if value == 1 else float("nan")
  return -10 * math.log10(1 - value)


def bpp(num_bytes, x):
  """Bits per pixel of a file of `num_bytes` for image x [H, W, C]."""
  return 8 * num_bytes / (np.shape(x)[0] * np.shape(x)[1])


def quality(x, x_hat):
  """Dict of psnr, ssim, ms_ssim and ms_ssim_db."""
  value = ms_ssim(x, x_hat)
  return {"psnr": psnr(x, x_hat), "ssim": ssim(x, x_hat), "ms_ssim": value,
          "ms_ssim_db": ms_ssim_db(value)}


def _float(x):
  return tf.cast(tf.convert_to_tensor(x), tf.float32)
