"""The importance map's mask and the learned multi-valued quantizer.

An importance map p in [0, 1] per position allots k = ceil(L * p) of the L
channel groups to that position; the mask keeps the first k groups and
zeroes the rest:

    m_l(p) = 1 if l < ceil(L * p) else 0,        l = 0 .. L - 1

The hard mask has no useful gradient, so training passes the gradient of
the ramp clip(L * p - l, 0, 1) through it (straight-through). The mask's
sum over groups, times the bits of a code, is the rate proxy.
"""

import tensorflow as tf


def kept_groups(p, levels):
  """k = ceil(L * p) as int32: groups kept at each position of p."""
  return tf.cast(tf.math.ceil(p * levels), tf.int32)


def group_mask(k, levels, channels):
  """Hard channel mask [..., channels] from kept groups k [..., 1]."""
  group = tf.range(channels) // (channels // levels)
  return tf.cast(group < k, tf.float32)


def importance_mask(p, levels, channels):
  """Mask [..., channels] from p [..., 1], with a straight-through ramp."""
  group = tf.cast(tf.range(channels) // (channels // levels), p.dtype)
  ramp = tf.clip_by_value(p * levels - group, 0, 1)
  hard = group_mask(kept_groups(p, levels), levels, channels)
  return ramp + tf.stop_gradient(hard - ramp)


class ChannelQuantizer(tf.keras.layers.Layer):
  """Channel-wise learned multi-valued quantization of features in [0, 1].

  Each channel c has Q learned levels; a feature maps to its nearest level.
  Forward: the level; backward: identity to the feature (straight-through)
  and the loss's gradient to the chosen level.
  """

  def __init__(self, channels, num_levels, **kwargs):
    super().__init__(**kwargs)
    self.num_levels = num_levels
    initial = tf.tile(tf.linspace(0.0, 1.0, num_levels)[None], [channels, 1])
    self.levels = tf.Variable(initial, name="levels")

  def indices(self, e):
    """Code of each feature e [..., C]: index of its nearest level."""
    distance = tf.abs(e[..., None] - self.levels)
    return tf.argmin(distance, axis=-1, output_type=tf.int32)

  def dequantize(self, codes):
    """The level values of int codes [..., C]."""
    channels = tf.range(tf.shape(self.levels)[0])
    return tf.gather_nd(self.levels,
                        tf.stack([tf.broadcast_to(channels, tf.shape(codes)),
                                  codes], -1))

  def call(self, e):
    return self.dequantize(self.indices(e)) + (e - tf.stop_gradient(e))
