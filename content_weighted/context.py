"""The context model: masked 3-D convolutions over the code volume.

The codes of an image form a volume [C, H, W] (channel as depth). Codes are
decoded in planes t = c + i + j (the slanted order of Li et al.'s parallel
decoding): every code of plane t may depend only on codes of planes < t,
so a whole plane is decoded at once, in C + H + W - 2 steps.

The first convolution sees only offsets (dc, di, dj) with dc + di + dj < 0
(mask "A"); later ones also the centre plane, dc + di + dj <= 0 (mask "B").
A stack of these keeps every output's inputs on strictly earlier planes.
With map_model="context" the importance map is slice 0 of the volume
(`volume_logits`). Training runs the model over the whole volume at once
(`logits_hwc`); the file format codes plane by plane, evaluating each
plane's causal windows only (`planes`); `sequential` codes one code at a
time.
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from bls2017.core.entropy.empirical import PRECISION


def kernel_mask(size, include_plane):
  """[size]*3 0/1 mask of the allowed offsets of a size^3 kernel."""
  offsets = np.arange(size) - size // 2
  total = (offsets[:, None, None] + offsets[None, :, None] +
           offsets[None, None, :])
  return (total <= 0) if include_plane else (total < 0)


class MaskedConv3D(tf.keras.layers.Layer):
  """A 3-D convolution whose kernel is zero outside `kernel_mask`."""

  def __init__(self, filters, size, include_plane, **kwargs):
    super().__init__(**kwargs)
    self.filters, self.size = filters, size
    self.mask = kernel_mask(size, include_plane).astype(np.float32)

  def build(self, input_shape):
    shape = [self.size] * 3 + [int(input_shape[-1]), self.filters]
    self.kernel = self.add_weight(
        "kernel", shape, initializer="glorot_uniform")
    self.bias = self.add_weight("bias", [self.filters], initializer="zeros")
    super().build(input_shape)

  def call(self, x):
    kernel = self.kernel * self.mask[..., None, None]
    return tf.nn.conv3d(x, kernel, [1] * 5, "SAME") + self.bias

  def taps(self):
    """(offsets [n, 3] (dc, di, dj) the mask allows, in raster order, and
    their weights [n, inputs, filters]): the convolution as a sum over
    taps, for the coders that evaluate it on windows."""
    allowed = self.mask.astype(bool)
    return (np.argwhere(allowed) - self.size // 2,
            tf.boolean_mask(self.kernel, allowed))


class ContextModel(tf.keras.Sequential):
  """Code volume -> logits of each code's Q values, from earlier planes.

  Input [B, D, H, W, 2]: each position's value scaled to (0, 1] where it
  is kept and known (0 elsewhere), and the mask (1 where kept). D = C, or
  C + 1 with the importance map as slice 0, coded by the same features h2
  under its own head (`map_head`, `volume_logits`):

      volume --masked_a 5^3, relu--> --masked_b 3^3, relu--> h2
      h2 --logits 1^3-->           [B, D, H, W, Q]      the codes' values
      h2 --map_head 1^3 (slice 0)--> [B, 1, H, W, L + 1]  the map's levels
  """

  def __init__(self, num_levels, filters=16):
    # Small on purpose: training runs it on every code of every patch.
    super().__init__(name="context_model")
    self.add(MaskedConv3D(filters, 5, False, name="masked_a"))
    self.add(tf.keras.layers.ReLU())
    self.add(MaskedConv3D(filters, 3, True, name="masked_b"))
    self.add(tf.keras.layers.ReLU())
    self.add(MaskedConv3D(num_levels, 1, True, name="logits"))

  def features(self, volume):
    """h2 [B, D, H, W, filters]: what the heads read."""
    for layer in self.layers[:-1]:
      volume = layer(volume)
    return volume


def map_head(map_levels):
  """The importance map's head: h2 -> logits of its L + 1 levels. A layer
  of the model that owns it (a Sequential tracks only its stack)."""
  return MaskedConv3D(map_levels, 1, True, name="map_logits")


def masked_layers(context_model):
  """(masked_a, masked_b, logits): the codes' path through the model."""
  masked_a, masked_b, logits = [
      layer for layer in context_model.layers
      if isinstance(layer, MaskedConv3D)][:3]
  return masked_a, masked_b, logits


def code_value(codes, num_levels):
  """A known code's value channel, (code + 1) / Q in (0, 1]; 0 stays free
  for codes not kept or not yet decoded. Shared by `volume` and
  `sequential`, which must feed the model the same numbers."""
  return (codes + 1) / num_levels


def volume(codes, mask, num_levels, k=None, map_levels=None):
  """Context input [B, D, H, W, 2] from codes and mask [B, H, W, C]; with
  the importance levels k [B, H, W, 1] (0 .. L, map_levels = L + 1), the
  map is slice 0 (always kept) and D = C + 1."""
  mask = tf.cast(mask, tf.float32)
  value = mask * code_value(tf.cast(codes, tf.float32), num_levels)
  if k is not None:
    value = tf.concat([code_value(tf.cast(k, tf.float32), map_levels),
                       value], -1)
    mask = tf.concat([tf.ones_like(mask[..., :1]), mask], -1)
  return tf.transpose(tf.stack([value, mask], -1), [0, 3, 1, 2, 4])


def logits_hwc(context_model, codes, mask, num_levels):
  """Logits [B, H, W, C, Q] of each code given earlier planes."""
  logits = context_model(volume(codes, mask, num_levels))
  return tf.transpose(logits, [0, 2, 3, 1, 4])


def volume_logits(context_model, head, codes, mask, k, num_levels):
  """With the map in the volume: (code logits [B, H, W, C, Q], map logits
  [B, H, W, L + 1]) of each code and level given earlier planes."""
  h2 = context_model.features(volume(codes, mask, num_levels, k,
                                     head.filters))
  code_logits = context_model.layers[-1](h2[:, 1:])
  return (tf.transpose(code_logits, [0, 2, 3, 1, 4]),
          head(h2[:, :1])[:, 0])


def plane_index(height, width, channels):
  """t = c + i + j as an int32 tensor [H, W, C]: each code's plane."""
  i = tf.range(height)[:, None, None]
  j = tf.range(width)[None, :, None]
  c = tf.range(channels)[None, None, :]
  return i + j + c


def quantized_cdf(logits):
  """Integer CDFs [..., Q + 1] for the range coder from logits [..., Q].

  Every value keeps at least one count of 2^16, so no code is impossible;
  rounding happens once, on one side's float result, and both sides run
  the same graph on the same inputs (see codec).
  """
  num_levels = tf.shape(logits)[-1]
  probs = tf.nn.softmax(logits)
  scale = tf.cast(2**PRECISION - num_levels, tf.float32)
  counts = tf.cast(tf.floor(probs * scale), tf.int32) + 1
  # The range coder wants the CDF to end at exactly 2^16: the rounding
  # remainder goes to the most probable value.
  remainder = 2**PRECISION - tf.reduce_sum(counts, -1, keepdims=True)
  counts += remainder * tf.one_hot(tf.argmax(counts, -1), num_levels,
                                   dtype=tf.int32)
  zero = tf.zeros_like(counts[..., :1])
  return tf.concat([zero, tf.cumsum(counts, axis=-1)], -1)


def _lookup(cdf):
  # TFC's range coder takes each CDF row preceded by its precision.
  return tf.concat([tf.fill([tf.shape(cdf)[0], 1], PRECISION), cdf], -1)


def range_encode(symbols, cdf):
  """One string coding int32 `symbols` [n], symbol i under CDF row i of
  `cdf` [n, Q + 1] (from `quantized_cdf`)."""
  handle = tfc.create_range_encoder([], _lookup(cdf))
  handle = tfc.entropy_encode_index(
      handle, tf.range(tf.shape(cdf)[0]), symbols)
  return tfc.entropy_encode_finalize(handle)


def range_decode(string, cdf):
  """The int32 symbols [n] that `range_encode` coded under `cdf`."""
  count = tf.shape(cdf)[0]
  handle = tfc.create_range_decoder(string, _lookup(cdf))
  _, symbols = tfc.entropy_decode_index(
      handle, tf.range(count), count[None], tf.int32)
  return symbols
