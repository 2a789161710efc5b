"""Layers the systems' transforms are built from."""

import tensorflow as tf
import tensorflow_compression as tfc


def signal_conv(filters, kernel, stride, up, name, activation=None):
  """One stage of a transform: a `tfc.SignalConv2D` that resamples by
  `stride` (down: correlation; up: convolution with zero insertion), with
  a bias and zero padding that keeps sides at multiples of the stride."""
  resample = {"strides_up": stride} if up else {"strides_down": stride}
  return tfc.SignalConv2D(
      filters, (kernel, kernel), corr=not up, padding="same_zeros",
      use_bias=True, activation=activation, name=name, **resample)


class GDNTransform(tf.keras.Sequential):
  """A transform of `signal_conv` stages with GDN between them.

      down (analysis):   x / 255 --conv, GDN--> ... --conv (, GDN)--> y
      up (synthesis):    y --conv, IGDN--> ... --conv--> * 255 --> x_hat

  stages: (filters, kernel, stride, gdn) per stage, gdn True for a GDN
  (IGDN going up) after it. Stage i is layer "layer_i" and its GDN
  "gdn_i" ("igdn_i"), so a model's variable names follow from its stages.
  The 0..255 scaling is part of the transform: down divides first, up
  multiplies last.
  """

  def __init__(self, name, stages, up):
    super().__init__(name=name)
    if not up:
      self.add(tf.keras.layers.Rescaling(1 / 255))
    for i, (filters, kernel, stride, gdn) in enumerate(stages):
      name = f"igdn_{i}" if up else f"gdn_{i}"
      self.add(signal_conv(filters, kernel, stride, up, f"layer_{i}",
                           tfc.GDN(inverse=up, name=name) if gdn else None))
    if up:
      self.add(tf.keras.layers.Rescaling(255))
