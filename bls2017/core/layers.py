"""Layers the systems' transforms are built from."""

import functools

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc


@functools.lru_cache(maxsize=None)
def rdft_basis(height, width):
  """The inverse RDFT of a height x width kernel as two matrices.

  tfc.RDFTParameter stores a kernel as the real and imaginary parts of its
  2-D real DFT, [.., height, width // 2 + 1] each, and makes the kernel with
  irfft2d. That map is linear, so it equals `real @ R + imag @ I` with R and
  I [height * (width // 2 + 1), height * width]: the inverse RDFT of each
  basis coefficient (imaginary parts that irfft2d ignores map to 0).
  """
  bins = height * (width // 2 + 1)
  eye = np.eye(bins).reshape(bins, height, width // 2 + 1)
  real = np.fft.irfft2(eye, s=(height, width)).reshape(bins, -1)
  imag = np.fft.irfft2(1j * eye, s=(height, width)).reshape(bins, -1)
  return real.astype(np.float32), imag.astype(np.float32)


def rdft_kernel(parameter):
  """The kernel [kh, kw, C_in, C_out] of a tfc.RDFTParameter, computed as
  one matrix product (`rdft_basis`) instead of C_in * C_out small irfft2ds.

  Equal to `parameter()` up to float32 rounding (~1e-7 relative), with the
  same gradient; on CPUs the irfft2ds and their gradient cost more than
  the convolutions of a training step (`bls2017.training_benchmark`).
  """
  height, width, channels_in, channels_out = parameter.shape
  real_basis, imag_basis = rdft_basis(height, width)
  bins = real_basis.shape[0]
  norm = float(height * width) ** .5
  kernel = (tf.reshape(parameter.real, (-1, bins)) @ real_basis +
            tf.reshape(parameter.imag, (-1, bins)) @ imag_basis) * norm
  kernel = tf.reshape(kernel, (channels_in, channels_out, height, width))
  return tf.transpose(kernel, (2, 3, 0, 1))


class SignalConv2D(tfc.SignalConv2D):
  """tfc.SignalConv2D whose RDFT kernel can be made by `rdft_kernel`.

  kernel_by_matmul (default False) switches it on: the trainers do, for
  speed; coding keeps tfc's irfft2d, so that bitstreams do not move with
  the ~1e-7 differences between the two.
  """

  kernel_by_matmul = False

  @property
  def kernel(self):
    if self.kernel_by_matmul and isinstance(self.kernel_parameter,
                                            tfc.RDFTParameter):
      return tf.cast(rdft_kernel(self.kernel_parameter), self.compute_dtype)
    return super().kernel


def set_kernel_by_matmul(model, enabled=True):
  """Switches `SignalConv2D.kernel_by_matmul` on every such layer of
  `model` (a training speed-up; see `rdft_kernel`)."""
  for layer in model.submodules:
    if isinstance(layer, SignalConv2D):
      layer.kernel_by_matmul = enabled


def signal_conv(filters, kernel, stride, up, name, activation=None):
  """One stage of a transform: a `SignalConv2D` that resamples by
  `stride` (down: correlation; up: convolution with zero insertion), with
  a bias and zero padding that keeps sides at multiples of the stride."""
  resample = {"strides_up": stride} if up else {"strides_down": stride}
  return SignalConv2D(
      filters, (kernel, kernel), corr=not up, padding="same_zeros",
      use_bias=True, activation=activation, name=name, **resample)


# GDN forms by name: tfc.GDN's (alpha, epsilon) exponents.
#   paper:      v_i = u_i / sqrt(beta_i + sum_j gamma_ji * u_j^2)
#               (Balle, Laparra & Simoncelli, ICLR 2017, section 2)
#   simplified: v_i = u_i / (beta_i + sum_j gamma_ji * |u_j|)
#               (Johnston et al., CVPR 2019; tfc.GDN's default since 2021)
GDN_EXPONENTS = {"paper": (2, 0.5), "simplified": (1, 1)}


def gdn(inverse, name, form="simplified"):
  """A `tfc.GDN` (IGDN if `inverse`) of the named form (`GDN_EXPONENTS`).

  Both forms have the same variables (beta [C], gamma [C, C]), so a model
  file's shapes do not tell them apart; the model's config records it.
  """
  if form not in GDN_EXPONENTS:
    raise ValueError(f"Unknown GDN form {form!r} (known: "
                     f"{', '.join(GDN_EXPONENTS)}).")
  alpha, epsilon = GDN_EXPONENTS[form]
  return tfc.GDN(inverse=inverse, alpha_parameter=alpha,
                 epsilon_parameter=epsilon, name=name)


class GDNTransform(tf.keras.Sequential):
  """A transform of `signal_conv` stages with GDN between them.

      down (analysis):   x / 255 --conv, GDN--> ... --conv (, GDN)--> y
      up (synthesis):    y --conv, IGDN--> ... --conv--> * 255 --> x_hat

  stages: (filters, kernel, stride, gdn) per stage, gdn True for a GDN
  (IGDN going up) after it. Stage i is layer "layer_i" and its GDN
  "gdn_i" ("igdn_i"), so a model's variable names follow from its stages.
  The 0..255 scaling is part of the transform: down divides first, up
  multiplies last. gdn_form: one of `GDN_EXPONENTS`.
  """

  def __init__(self, name, stages, up, gdn_form="simplified"):
    super().__init__(name=name)
    if not up:
      self.add(tf.keras.layers.Rescaling(1 / 255))
    for i, (filters, kernel, stride, has_gdn) in enumerate(stages):
      name = f"igdn_{i}" if up else f"gdn_{i}"
      self.add(signal_conv(filters, kernel, stride, up, f"layer_{i}",
                           gdn(up, name, gdn_form) if has_gdn else None))
    if up:
      self.add(tf.keras.layers.Rescaling(255))
