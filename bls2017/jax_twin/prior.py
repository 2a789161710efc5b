"""The factorized prior and the relaxed rate, as TFC 2.14 computes them.

`tfc.NoisyDeepFactorized(batch_shape=(C,))` is the density of Ballé et al.
(ICLR 2018, appendix 6.1) -- per channel c a monotone function
f_c : R -> R whose sigmoid is the cumulative, built from K + 1 layers

    l_0 = y
    l_{k+1} = softplus(H_k) l_k + b_k
              (+ tanh(a_k) * tanh(l_{k+1}) for every layer but the last)
    c(y) = sigmoid(l_{K+1}),          H_k: [C, f_{k+1}, f_k], f = 1,3,3,1

-- convolved with U(-1/2, 1/2) (appendix 6.2), so the density of the noisy
latent y~ = y + u is p(y~) = c(y~ + 1/2) - c(y~ - 1/2). In training,
`ContinuousBatchedEntropyModel(compression=False)` adds that noise and
counts -log2 p(y~) bits per latent; this module does the same with the
noise passed in (the trainer draws it), and evaluates log p in the same
numerically careful form as TFC's UniformNoiseAdapter.
"""

import jax
import jax.numpy as jnp
import numpy as np

# DeepFactorized's defaults: hidden widths and the density's initial scale.
FILTERS = (3, 3)
INIT_SCALE = 10.

# Variable names in tf.Module order (alphabetical), as the model file lists
# them.
NAMES = ("bias_0", "bias_1", "bias_2", "factor_0", "factor_1", "matrix_0",
         "matrix_1", "matrix_2")


def shapes(channels):
  """{name: shape} of the prior's variables for `channels` channels."""
  widths = (1,) + FILTERS + (1,)
  result = {}
  for k in range(len(widths) - 1):
    result[f"matrix_{k}"] = (channels, widths[k + 1], widths[k])
    result[f"bias_{k}"] = (channels, widths[k + 1], 1)
    if k < len(FILTERS):
      result[f"factor_{k}"] = (channels, widths[k + 1], 1)
  return {name: result[name] for name in NAMES}


def init(key, channels):
  """DeepFactorized's initial values: a wide, roughly logistic density."""
  widths = (1,) + FILTERS + (1,)
  scale = INIT_SCALE ** (1 / (len(FILTERS) + 1))
  values = {}
  for name, shape in shapes(channels).items():
    kind, k = name.split("_")
    if kind == "matrix":
      # softplus(H) = 1 / scale / fan_out: log(expm1(.)) inverts softplus.
      value = np.log(np.expm1(1 / scale / widths[int(k) + 1]))
      values[name] = jnp.full(shape, value, jnp.float32)
    elif kind == "bias":
      key, sub = jax.random.split(key)
      values[name] = jax.random.uniform(sub, shape, jnp.float32, -.5, .5)
    else:
      values[name] = jnp.zeros(shape, jnp.float32)
  return values


def logits_cumulative(params, y):
  """l_{K+1}(y) for y [..., C]: the logit of the cumulative c(y)."""
  logits = y[..., None]  # [..., C, 1]
  for k in range(len(FILTERS) + 1):
    matrix = jax.nn.softplus(params[f"matrix_{k}"])
    logits = jnp.einsum("cij,...cj->...ci", matrix, logits)
    logits = logits + params[f"bias_{k}"][..., 0]
    if k < len(FILTERS):
      logits = logits + jnp.tanh(params[f"factor_{k}"][..., 0]) * jnp.tanh(
          logits)
  return logits[..., 0]


def log_prob(params, y_tilde):
  """log p(y~) = log(c(y~ + 1/2) - c(y~ - 1/2)), in log space.

  Right of the median the survival function 1 - c is used instead of c, so
  that far tails do not round to log(1 - 1) (UniformNoiseAdapter's
  `_log_prob_with_logsf_and_logcdf`).
  """
  upper = logits_cumulative(params, y_tilde + .5)
  lower = logits_cumulative(params, y_tilde - .5)
  log_sf_upper = jax.nn.log_sigmoid(-upper)
  log_sf_lower = jax.nn.log_sigmoid(-lower)
  log_cdf_upper = jax.nn.log_sigmoid(upper)
  log_cdf_lower = jax.nn.log_sigmoid(lower)
  right = log_sf_upper < log_cdf_upper
  big = jnp.where(right, log_sf_lower, log_cdf_upper)
  small = jnp.where(right, log_sf_upper, log_cdf_lower)
  return jnp.where(jnp.isinf(big), big,
                   jnp.log1p(-jnp.exp(small - big)) + big)


def bits(params, y_tilde):
  """-log2 p(y~) per latent: the relaxed rate, same shape as y_tilde."""
  return log_prob(params, y_tilde) / np.float32(-np.log(2.))
