"""bls2017's training graph in JAX: variables, forward pass, Lagrangian.

    x (0..255) --/255--> g_a --> y --(+noise)--> y_tilde --g_s--*255--> x_hat
                                                |
                           prior: bits = -log2 p(y_tilde)

    g_a: conv 9x9/4 + GDN, conv 5x5/2 + GDN, conv 5x5/2
    g_s: conv^T 5x5/2 + IGDN, conv^T 5x5/2 + IGDN, conv^T 9x9/4

    loss = bpp + lambda * mse,  bpp = sum(bits) / (B H W),
                                mse = mean((x - x_hat)^2) on the 0..255 scale

Parameters are a flat dict {name: float32 array}; each name is the Keras
variable's name with its sub-model in front ("g_a/layer_0/kernel_real",
"g_s/layer_2/bias", "prior/matrix_0"), and `variables` lists them in the
order of `BLS2017Model.coding_variables`, which is the model file's order.
"""

import jax
import jax.numpy as jnp
import numpy as np

from bls2017.paper.architecture import (  # pylint: disable=unused-import
    STRIDE, Architecture)
from bls2017.core.images import latent_side
from bls2017.jax_twin import layers, prior

# (layer, kernel size, stride, nonlinearity) of g_a and of g_s.
ANALYSIS = (("layer_0", 9, 4, "gdn_0"), ("layer_1", 5, 2, "gdn_1"),
            ("layer_2", 5, 2, None))
SYNTHESIS = (("layer_0", 5, 2, "igdn_0"), ("layer_1", 5, 2, "igdn_1"),
             ("layer_2", 9, 4, None))


def _layer_variables(prefix, name, kernel, inputs, filters, nonlinearity):
  """A SignalConv2D's variables in Keras order: bias, GDN, kernel."""
  result = [(f"{prefix}/{name}/bias", (filters,))]
  if nonlinearity:
    result += [(f"{prefix}/{name}/{nonlinearity}/reparam_beta", (filters,)),
               (f"{prefix}/{name}/{nonlinearity}/reparam_gamma",
                (filters, filters))]
  rdft = (inputs, filters, kernel, kernel // 2 + 1)
  return result + [(f"{prefix}/{name}/kernel_imag", rdft),
                   (f"{prefix}/{name}/kernel_real", rdft)]


def variables(arch):
  """[(name, shape)] in the model file's order."""
  n, c = arch.num_filters, arch.channels
  result = []
  for prefix, stages, inputs, outputs in (("g_a", ANALYSIS, (c, n, n),
                                           (n, n, n)),
                                          ("g_s", SYNTHESIS, (n, n, n),
                                           (n, n, c))):
    for (name, kernel, _, nonlinearity), i, o in zip(stages, inputs,
                                                     outputs):
      result += _layer_variables(prefix, name, kernel, i, o, nonlinearity)
  result += [(f"prior/{name}", shape)
             for name, shape in prior.shapes(n).items()]
  return result


def keras_name(name):
  """The Keras variable name that a parameter name stands for."""
  prefix, rest = name.split("/", 1)
  return f"DeepFactorized/{rest}:0" if prefix == "prior" else f"{rest}:0"


def init(key, arch):
  """Fresh parameters, drawn as the Keras layers draw theirs.

  Kernels: variance scaling (fan-in, truncated normal) stored as their
  RDFT; biases 0; GDN beta = 1, gamma = 0.1 I; the prior as DeepFactorized.
  """
  params = {}
  init_kernel = jax.nn.initializers.variance_scaling(
      1., "fan_in", "truncated_normal")
  for name, shape in variables(arch):
    if name.startswith("prior/"):
      continue
    if name.endswith("kernel_real"):
      inputs, outputs, kernel, _ = shape
      key, sub = jax.random.split(key)
      real, imag = layers.rdft_init(init_kernel(
          sub, (kernel, kernel, inputs, outputs), jnp.float32))
      params[name], params[name.replace("real", "imag")] = real, imag
    elif name.endswith("reparam_beta"):
      params[name] = layers.nonnegative_init(jnp.ones(shape, jnp.float32))
    elif name.endswith("reparam_gamma"):
      params[name] = layers.nonnegative_init(
          .1 * jnp.eye(shape[0], dtype=jnp.float32))
    elif name.endswith("bias"):
      params[name] = jnp.zeros(shape, jnp.float32)
  key, sub = jax.random.split(key)
  params.update({f"prior/{k}": v for k, v in prior.init(sub, arch.num_filters
                                                        ).items()})
  return {name: params[name] for name, _ in variables(arch)}


def _stage(params, prefix, x, name, kernel, stride, nonlinearity, up,
           gdn="simplified"):
  p = f"{prefix}/{name}"
  weights = layers.rdft_kernel(params[f"{p}/kernel_real"],
                               params[f"{p}/kernel_imag"], (kernel, kernel))
  conv = layers.conv_up if up else layers.conv_down
  x = conv(x, weights, params[f"{p}/bias"], stride)
  if nonlinearity:
    x = layers.gdn(x, params[f"{p}/{nonlinearity}/reparam_beta"],
                   params[f"{p}/{nonlinearity}/reparam_gamma"], inverse=up,
                   form=gdn)
  return x


def g_a(params, x, gdn="simplified"):
  """Analysis transform: x [B, H, W, C] on 0..255 -> y [B, H/16, W/16, N]
  (gdn: GDN's form, `Architecture.gdn`)."""
  x = x * np.float32(1 / 255)
  for stage in ANALYSIS:
    x = _stage(params, "g_a", x, *stage, up=False, gdn=gdn)
  return x


def g_s(params, y_hat, gdn="simplified"):
  """Synthesis transform: y_hat [B, h, w, N] -> x_hat [B, 16h, 16w, C]."""
  for stage in SYNTHESIS:
    y_hat = _stage(params, "g_s", y_hat, *stage, up=True, gdn=gdn)
  return y_hat * np.float32(255)


def prior_params(params):
  return {k[len("prior/"):]: v for k, v in params.items()
          if k.startswith("prior/")}


def latent_shape(arch, batch_shape):
  """Shape of y for a batch [B, H, W, C] (H, W multiples of STRIDE)."""
  b, h, w, _ = batch_shape
  return (b, latent_side(h, STRIDE), latent_side(w, STRIDE),
          arch.num_filters)


def forward(params, x, noise, gdn="simplified"):
  """The relaxed codec on x [B, H, W, C] with noise ~ U(-1/2, 1/2) like y
  (gdn: GDN's form, `Architecture.gdn`).

  Returns {y, y_tilde, x_hat, bits (per latent), bpp, mse}.
  """
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)  # uint8 batches.
  y = g_a(params, x, gdn)
  y_tilde = y + noise
  bits = prior.bits(prior_params(params), y_tilde)
  x_hat = g_s(params, y_tilde, gdn)
  num_pixels = np.float32(np.prod(x.shape[:-1]))
  return {"y": y, "y_tilde": y_tilde, "x_hat": x_hat, "bits": bits,
          "bpp": jnp.sum(bits) / num_pixels,
          "mse": jnp.mean(jnp.square(x - x_hat))}


def lagrangian(params, x, noise, lmbda, gdn="simplified"):
  """(bpp + lambda * mse, (bpp, mse)): the loss bls2017 train minimises."""
  out = forward(params, x, noise, gdn)
  return out["bpp"] + lmbda * out["mse"], (out["bpp"], out["mse"])
