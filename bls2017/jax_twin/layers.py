"""The layers of bls2017's transforms, as TFC 2.14 computes them.

Each function mirrors one TFC layer bit for bit in what it computes (up to
float rounding) and in its gradients, including TFC's custom ones:

  lower_bound        tfc.lower_bound, gradient "identity_if_towards"
  nonnegative        tfc.GDNParameter: beta, gamma stored as sqrt(. + p^2)
  rdft_kernel        tfc.RDFTParameter: kernels stored as their scaled RDFT
  conv_down          SignalConv2D(corr=True, strides_down=s, "same_zeros")
  conv_up            SignalConv2D(corr=False, strides_up=s, "same_zeros")
  gdn                tfc.GDN with its defaults (alpha = epsilon = 1)

Shapes are NHWC, float32; kernels HWIO.
"""

import jax
import jax.numpy as jnp
import numpy as np

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")

# tfc.GDNParameter's offset: the reparameterization adds its square.
GDN_OFFSET = 2 ** -18
BETA_MINIMUM = 1e-6
GAMMA_MINIMUM = 0.


@jax.custom_vjp
def lower_bound(x, bound):
  """max(x, bound), whose gradient passes where it pushes x towards bound.

  TFC's "identity_if_towards": below the bound, a gradient that would
  raise x (a negative gradient, since descent subtracts it) still passes,
  so a variable stuck under its bound can recover.
  """
  return jnp.maximum(x, bound)


def _lower_bound_forward(x, bound):
  return jnp.maximum(x, bound), (x, bound)


def _lower_bound_backward(residuals, grad):
  x, bound = residuals
  passes = jnp.logical_or(x >= bound, grad < 0)
  return jnp.where(passes, grad, 0.).astype(grad.dtype), jnp.zeros_like(bound)


lower_bound.defvjp(_lower_bound_forward, _lower_bound_backward)


def nonnegative(reparam, minimum):
  """GDNParameter's value: lower_bound(v, sqrt(minimum + p^2))^2 - p^2."""
  pedestal = np.float32(GDN_OFFSET ** 2)
  bound = np.float32((minimum + GDN_OFFSET ** 2) ** .5)
  return jnp.square(lower_bound(reparam, bound)) - pedestal


def nonnegative_init(value):
  """The stored variable of a GDNParameter whose value is `value`."""
  pedestal = np.float32(GDN_OFFSET ** 2)
  return jnp.sqrt(jnp.maximum(value + pedestal, pedestal))


def rdft_kernel(real, imag, support):
  """HWIO kernel from RDFTParameter's variables [I, O, kh, kw // 2 + 1].

  kernel = irfft2d(sqrt(kh * kw) * (real + i imag)), transposed to HWIO.
  """
  kh, kw = support
  rdft = jax.lax.complex(real, imag) * np.float32((kh * kw) ** .5)
  kernel = jnp.fft.irfft2(rdft, s=(kh, kw), axes=(-2, -1))
  return jnp.transpose(kernel, (2, 3, 0, 1))


def rdft_init(kernel):
  """RDFTParameter's (real, imag) for an HWIO kernel."""
  kh, kw = kernel.shape[:2]
  rdft = jnp.fft.rfft2(jnp.transpose(kernel, (2, 3, 0, 1)), axes=(-2, -1))
  rdft = rdft / np.float32((kh * kw) ** .5)
  return jnp.real(rdft).astype(jnp.float32), jnp.imag(rdft).astype(
      jnp.float32)


def conv_down(x, kernel, bias, stride):
  """Correlation, then downsampling by `stride`, zero-padded "same".

  TFC pads (k - 1) / 2 zeros on both sides of an odd kernel. XLA's 'SAME'
  puts the extra zero of an even input at the end instead, which moves
  every output sample of a strided layer.
  """
  pad = (kernel.shape[0] - 1) // 2
  y = jax.lax.conv_general_dilated(
      x, kernel, window_strides=(stride, stride),
      padding=((pad, pad), (pad, pad)), dimension_numbers=_DIMENSIONS)
  return y + bias


def conv_up(x, kernel, bias, stride):
  """Upsampling by `stride` (zero insertion), then convolution, "same".

  TFC computes this as a transposed convolution: output sample o gets
  sum_i x[i] K[o - stride * i + (k - 1) / 2]. Zero insertion followed by a
  dense convolution would spend stride^2 - 1 of every stride^2 products on
  the inserted zeros, so this splits the kernel by output phase instead
  (the sub-pixel form): output o = stride * m + r only ever meets the taps
  K[(k - 1) / 2 + r - stride * e] at input m + e, |e| <= 1 here. One dense
  correlation of x with those sub-kernels gives every phase as a channel
  group, and depth-to-space interleaves them. Output: stride * input size.
  """
  sub_kernels, (before, after) = _phase_kernels(kernel, stride)
  y = jax.lax.conv_general_dilated(
      x, sub_kernels, window_strides=(1, 1),
      padding=((before, after), (before, after)),
      dimension_numbers=_DIMENSIONS)
  b, h, w, _ = y.shape
  y = y.reshape(b, h, w, stride, stride, -1)
  y = jnp.transpose(y, (0, 1, 3, 2, 4, 5)).reshape(b, h * stride,
                                                     w * stride, -1)
  return y + bias


def _phase_kernels(kernel, stride):
  """[E, E, I, stride * stride * O] sub-kernels of an odd [k, k, I, O]
  kernel, and the (before, after) padding that centres their E taps."""
  k = kernel.shape[0]
  half = (k - 1) // 2
  first = -(half // stride)  # ceil(-half / stride)
  last = (half + stride - 1) // stride
  taps = np.arange(first, last + 1)
  index = half + np.arange(stride)[None, :] - stride * taps[:, None]  # [E, s]
  valid = (index >= 0) & (index < k)
  index = np.clip(index, 0, k - 1)
  # [E, s, E, s, I, O]: tap (e1, e2) of phase (r1, r2).
  gathered = kernel[index[:, :, None, None], index[None, None, :, :]]
  mask = (valid[:, :, None, None] & valid[None, None, :, :]).astype(
      kernel.dtype)
  gathered = gathered * mask[..., None, None]
  e, i, o = len(taps), kernel.shape[2], kernel.shape[3]
  sub_kernels = jnp.transpose(gathered, (0, 2, 4, 1, 3, 5)).reshape(
      e, e, i, stride * stride * o)
  return sub_kernels, (-first, last)


def gdn(x, reparam_beta, reparam_gamma, inverse=False, form="simplified"):
  """Generalized divisive normalization (Ballé et al., ICLR 2016/2017),
  in the Keras model's two forms (`bls2017.core.layers.GDN_EXPONENTS`):

      simplified (TFC's default exponents, alpha = epsilon = 1):
        GDN:  y_i = x_i / (beta_i + sum_j gamma_ji |x_j|)
        IGDN: y_i = x_i * (beta_i + sum_j gamma_ji |x_j|)
      paper (alpha = 2, epsilon = 1/2):
        GDN:  y_i = x_i / sqrt(beta_i + sum_j gamma_ji x_j^2)
        IGDN: y_i = x_i * sqrt(beta_i + sum_j gamma_ji x_j^2)
  """
  beta = nonnegative(reparam_beta, BETA_MINIMUM)
  gamma = nonnegative(reparam_gamma, GAMMA_MINIMUM)
  if form == "paper":
    norm = jnp.sqrt(jnp.einsum("...j,ji->...i", x * x, gamma) + beta)
  else:
    norm = jnp.einsum("...j,ji->...i", jnp.abs(x), gamma) + beta
  return x * norm if inverse else x / norm
