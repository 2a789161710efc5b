r"""The JAX twin against the Keras model, on the same weights and noise.

    python -m bls2017.jax_twin.equivalence [--output F.json]

The one module of the package that needs TensorFlow too, since it runs
both. For shipped and random weights, 128 and 192 filters, RGB and gray, it
feeds four 128x128 crops of a photograph and one noise sample to both
training graphs and reports, per quantity, the relative error: the largest
absolute difference over the largest magnitude. Forward: y, x_hat, the bits
of every latent, bpp, MSE; backward: the gradient of R + lambda D for every
variable (the worst one is reported). With --float64 it also runs the JAX
graph in float64, which tells how far each float32 side is from exact.
The test suite holds these figures to 1e-4 (forward) and 1e-3 (gradients).
"""

import contextlib
import json

import jax
import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from bls2017.core import catalog, images, model_file, timing
from bls2017.jax_twin import model as jax_model
from bls2017.paper.model import BLS2017Model

FORWARD = ("y", "x_hat", "bits", "bpp", "mse")


def relative_error(reference, value):
  reference, value = np.asarray(reference), np.asarray(value)
  return float(np.max(np.abs(reference - value)) /
               max(np.max(np.abs(reference)), 1e-30))


@contextlib.contextmanager
def fixed_noise(noise):
  """Makes the entropy model's uniform noise `noise` (TFC draws it with
  tf.random.uniform, in eager mode here)."""
  uniform = tf.random.uniform
  tf.random.uniform = lambda *args, **kwargs: tf.constant(noise)
  try:
    yield
  finally:
    tf.random.uniform = uniform


def keras_side(model, x, noise):
  """The Keras model's own figures and gradients (in coding_variables
  order) on x with `noise`."""
  with fixed_noise(noise), tf.GradientTape() as tape:
    bpp, mse = model(x, training=True)
    loss = bpp + model.lmbda * mse
  grads = tape.gradient(loss, model.coding_variables)
  y = model.g_a(x)
  y_tilde = y + noise
  figures = {"y": y, "x_hat": model.g_s(y_tilde),
             "bits": -model.prior.log_prob(y_tilde) / np.log(2.),
             "bpp": bpp, "mse": mse}
  return {k: np.asarray(v) for k, v in figures.items()}, [
      np.asarray(g) for g in grads]


def jax_side(params, x, noise, lmbda, gdn="simplified"):
  figures = jax_model.forward(params, x, noise, gdn)
  grads = jax.grad(lambda p: jax_model.lagrangian(p, x, noise, lmbda,
                                                  gdn)[0])(params)
  return figures, grads


def architecture(model):
  return jax_model.Architecture(model.num_filters, model.channels, model.gdn)


def params_of(model, dtype=np.float32):
  """The Keras model's variables as JAX params."""
  return {name: v.numpy().astype(dtype) for (name, _), v in
          zip(jax_model.variables(architecture(model)),
              model.coding_variables)}


def photo_batch(channels):
  """Four 128x128 crops of the sample photograph, float 0..255."""
  photo = images.read(images.sample_photo(), channels).astype(np.float32)
  return np.stack([photo[100 * i:100 * i + 128, 60 * i:60 * i + 128]
                   for i in range(4)])


def random_model(num_filters, channels, seed, gdn="simplified"):
  tf.keras.utils.set_random_seed(seed)
  return BLS2017Model(0.01, num_filters, channels, gdn)


def shipped_model(name):
  return model_file.load(catalog.resolve(name)).model


CASES = {
    "shipped bls2017-mse-4": lambda: shipped_model("bls2017-mse-4"),
    "shipped bls2017-gray-1": lambda: shipped_model("bls2017-gray-1"),
    "random 128 filters RGB": lambda: random_model(128, 3, 1),
    "random 192 filters RGB": lambda: random_model(192, 3, 2),
    "random 128 filters gray": lambda: random_model(128, 1, 3),
    "random 192 filters RGB, paper GDN": lambda: random_model(
        192, 3, 4, "paper"),
}


def errors(reference, grads_reference, figures, grads, arch):
  """{quantity: relative error} and the worst gradient's (name, error);
  both gradient lists in the Keras model's variable order."""
  forward = {k: relative_error(reference[k], figures[k]) for k in FORWARD}
  gradient = {name: relative_error(g, value) for (name, _), g, value in
              zip(jax_model.variables(arch), grads_reference, grads)}
  worst = max(gradient, key=gradient.get)
  return forward, (worst, gradient[worst])


def run_both(model, seed=0):
  """(x, noise, Keras (figures, grads), JAX (figures, grads in Keras
  order)) on photo crops with one noise sample."""
  x = photo_batch(model.channels)
  arch = architecture(model)
  noise = np.random.default_rng(seed).uniform(
      -.5, .5, jax_model.latent_shape(arch, x.shape)).astype(np.float32)
  figures, grads = jax_side(params_of(model), x, noise, model.lmbda,
                            model.gdn)
  names = [name for name, _ in jax_model.variables(arch)]
  return x, noise, keras_side(model, x, noise), (figures,
                                                  [grads[n] for n in names])


def compare(model, seed=0):
  """Errors of the JAX twin against `model` on photo crops."""
  _, _, keras, twin = run_both(model, seed)
  forward, (worst, error) = errors(*keras, *twin, architecture(model))
  return {"forward": forward, "worst_gradient": worst,
          "worst_gradient_error": error}


def float64_reference(model, x, noise, keras, twin):
  """Worst forward and gradient errors of each float32 side against the
  JAX graph in float64 (needs jax_enable_x64)."""
  arch = architecture(model)
  exact, exact_grads = jax_side(params_of(model, np.float64),
                                x.astype(np.float64),
                                noise.astype(np.float64), model.lmbda,
                                model.gdn)
  names = [name for name, _ in jax_model.variables(arch)]
  result = {}
  for side, (figures, grads) in (("keras", keras), ("jax", twin)):
    result[f"{side}_float32_forward"] = max(
        relative_error(exact[k], figures[k]) for k in FORWARD)
    result[f"{side}_float32_gradient"] = max(
        relative_error(exact_grads[n], g) for n, g in zip(names, grads))
  return result


_FLAGS = flags.FLAGS


def define_flags():
  """The command's flags; defined when it runs, so that importing this
  module leaves absl's global flags (which every absl parser sees) alone."""
  flags.DEFINE_string("output", "jax_equivalence.json", "JSON to write.")
  flags.DEFINE_bool("float64", True, "Also measure both float32 sides against "
                    "the JAX graph in float64.")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if _FLAGS.float64:
    jax.config.update("jax_enable_x64", True)
  rows = {}
  for case, build in CASES.items():
    model = build()
    x, noise, keras, twin = run_both(model)
    forward, (worst, error) = errors(*keras, *twin, architecture(model))
    row = {"forward": forward, "worst_gradient": worst,
           "worst_gradient_error": error}
    if _FLAGS.float64:
      row.update(float64_reference(model, x, noise, keras, twin))
    rows[case] = row
    print(case, json.dumps(row), flush=True)
  result = {"inputs": "4 crops of 128x128 of the sample photograph, one "
                      "noise sample", "jax": jax.__version__,
            "tensorflow": tf.__version__, "machine": timing.machine(),
            "cases": rows}
  images.write_json(_FLAGS.output, result)
  print(f"Wrote {_FLAGS.output}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
