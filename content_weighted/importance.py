"""The importance map's mask and the learned multi-valued quantizer.

An importance map p in [0, 1] per position allots k = ceil(L * p) of the L
channel groups to that position; the mask keeps the first k groups and
zeroes the rest:

    m_l(p) = 1 if l < ceil(L * p) else 0,        l = 0 .. L - 1

The hard mask has no useful gradient, so training passes a surrogate's
gradient through it (straight-through), dm_l/dp = L on a band of groups
next to the boundary L * p:

    "band":       |L p - l| < 1: the last kept group and the first dropped
                  one
    "last_group": 0 < L p - l < 1 (the ramp clip(L p - l, 0, 1)): the last
                  kept group only

Two-stage training (`relaxed_until` in the model) first trains on the
relaxed mask clip(L p - l, 0, 1) itself, a soft mask that scales the last
kept group, then on the hard mask with the straight-through gradient.

With "last_group" the distortion only says whether the last kept group
should be scaled up or down; once the decoder has adapted to it, that
averages to zero, the rate term's push does not, and p falls whatever
lambda (measured: see the README). "band" also asks whether adding the
first dropped group would lower the distortion. The mask's sum over
groups, times the bits of a code, is the rate proxy.
"""

import tensorflow as tf

import content_weighted


def kept_groups(p, levels):
  """k = ceil(L * p) as int32: groups kept at each position of p."""
  return tf.cast(tf.math.ceil(p * levels), tf.int32)


def group_mask(k, levels, channels):
  """Hard channel mask [..., channels] from kept groups k [..., 1]."""
  group = tf.range(channels) // (channels // levels)
  return tf.cast(group < k, tf.float32)


MASK_GRADIENTS = content_weighted.MASK_GRADIENTS


def importance_mask(p, levels, channels, gradient="band"):
  """Mask [..., channels] from p [..., 1], with the straight-through
  `gradient` ("band" or "last_group", see the module docstring)."""
  group = tf.cast(tf.range(channels) // (channels // levels), p.dtype)
  low = -1.0 if gradient == "band" else 0.0
  surrogate = tf.clip_by_value(p * levels - group, low, 1)
  hard = group_mask(kept_groups(p, levels), levels, channels)
  # (s - s) first: exactly 0 forward, so the mask is exactly the hard one.
  return hard + (surrogate - tf.stop_gradient(surrogate))


def relaxed_mask(p, levels, channels):
  """The mask's continuous relaxation m_l = clip(L p - l, 0, 1) [...,
  channels] from p [..., 1], the first stage of two-stage training: the
  last kept group is scaled by the share of it that L p covers. Its sum
  over a position's groups is L p, so the rate proxy and the distortion
  are differentiable in p without a surrogate."""
  group = tf.cast(tf.range(channels) // (channels // levels), p.dtype)
  return tf.clip_by_value(p * levels - group, 0, 1)


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
