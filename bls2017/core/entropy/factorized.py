"""The factorized entropy model: one density per latent channel.

    prior (a tfc distribution, batch_shape [C]) --coding_tables--> cdf,
        cdf_offset, quantization_offset   (stored in the model file)
    tables --FactorizedCoder--> encode: y --round at the offsets,
        range-code--> payload;  decode: payload --> y_hat

Both sides of a codec hold ONE `FactorizedCoder` built from the stored
tables, so encoder and decoder code with identical tables whatever the
floating-point behaviour of the machine that loads them.
"""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

CODING_RANK = 3  # y is [1, h, w, C]: one payload per image.


def coding_tables(prior_variables, make_prior, channels):
  """Builds the range-coding tables of a learned prior, in float64.

  prior_variables: the trained prior's variables; make_prior(dtype) a new
  prior of the same kind (float64 gets them). In float32, the quantization
  offsets (medians found by TFC's iterative tail estimation) move by up to
  ~2e-6 with the math library's rounding: oneDNN on or off gives different
  offsets from the same weights. In float64 those differences are far
  below float32 resolution, so the tables recomputed under any setting
  equal the stored ones.

  The tables are built in a graph (a concrete tf.function, stateless
  tables): eagerly, the tail estimation's loop runs op by op, about 15x
  slower, for the same tables.
  """
  prior = make_prior(tf.float64)
  for target, source in zip(prior.trainable_variables, prior_variables):
    target.assign(tf.cast(source, tf.float64))

  def build():
    entropy_model = tfc.ContinuousBatchedEntropyModel(
        prior, coding_rank=CODING_RANK, compression=True, stateless=True)
    offset = entropy_model.quantization_offset
    if offset is None:
      offset = tf.zeros((channels,), tf.float64)
    return entropy_model.cdf, entropy_model.cdf_offset, offset

  # A concrete function: called, it counts as no retracing of a tf.function.
  cdf, cdf_offset, offset = tf.function(build).get_concrete_function()()
  return {
      "cdf": cdf.numpy(),
      "cdf_offset": cdf_offset.numpy(),
      "quantization_offset": offset.numpy().astype(np.float32),
  }


class FactorizedCoder(tf.Module):
  """Codes latents [1, h, w, channels] with stored factorized tables
  (`EntropyCoder`). Without a "quantization_offset" table (tables fitted
  to integers), the offset is zero."""

  def __init__(self, tables, channels):
    super().__init__(name="factorized_coder")
    offset = tables.get("quantization_offset")
    self.model = tfc.ContinuousBatchedEntropyModel(
        prior_shape=(channels,), coding_rank=CODING_RANK, compression=True,
        cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
        quantization_offset=(np.zeros(channels, np.float32) if offset is None
                             else offset))

  def encode(self, y):
    return self.model.compress(y)[0]

  def decode(self, payload, latent_shape):
    return self.model.decompress(payload[None], latent_shape)
