"""The pieces of ADMM for a cardinality constraint, and stochastic rounding.

The problem min_z D(z) subject to card(z) <= l is split with an auxiliary
copy Z of z and a scaled dual variable U (Boyd et al., "Distributed
Optimization and Statistical Learning via the Alternating Direction Method
of Multipliers", 2011, section 9.1):

    z <- argmin D(z) + (rho / 2) ||z - Z + U||^2     (SGD steps)
    Z <- Pi_l(z + U)                                 (projection)
    U <- U + z - Z                                   (dual update)

where Pi_l, the Euclidean projection onto the vectors with at most l
non-zeros, keeps the l entries of largest magnitude and zeroes the rest.
"""

import tensorflow as tf
import tensorflow_compression as tfc


def keep_count(shape, fraction):
  """l: how many entries of one example of `shape` ([H, W, C]) to keep."""
  size = tf.cast(tf.reduce_prod(shape), tf.float64)
  return tf.maximum(1, tf.cast(tf.math.ceil(fraction * size), tf.int32))


def project_cardinality(v, keep):
  """Pi_l per example: keeps the `keep` largest |v| of each v[i], zeroes rest.

  v: float tensor [B, ...]; exactly `keep` entries per example stay
  (ties broken by position, as tf.math.top_k does).
  """
  flat = tf.reshape(v, [tf.shape(v)[0], -1])
  _, indices = tf.math.top_k(tf.abs(flat), k=keep, sorted=False)
  rows = tf.broadcast_to(tf.range(tf.shape(flat)[0])[:, None], tf.shape(indices))
  mask = tf.scatter_nd(tf.stack([rows, indices], -1),
                       tf.ones_like(indices, dtype=v.dtype), tf.shape(flat))
  return tf.reshape(flat * mask, tf.shape(v))


def dual_update(u, z, z_projected):
  """U <- U + z - Z: the scaled dual accumulates the constraint violation."""
  return u + z - z_projected


def stochastic_round(z):
  """Rounds down or up with probability given by the fractional part.

  E[output] = z, so the straight-through gradient (identity) is the
  gradient of the expectation. The seed comes from TensorFlow's global
  generator, so runs are reproducible under tf.keras.utils.set_random_seed.
  """
  seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int32)
  rounded = tf.cast(tfc.stochastic_round(z, 1.0, seed=seed), z.dtype)
  return z + tf.stop_gradient(rounded - z)
