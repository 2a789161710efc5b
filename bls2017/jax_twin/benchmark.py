r"""Training speed of the JAX ladder trainer, and of the Keras step beside it.

    python -m bls2017.jax_twin.benchmark --train_glob='photos/**/*.png' \
        [--filters=128,192] [--ladders=1,8] [--patchsize=256] \
        [--batchsize=8] [--repeats=10] [--keras] [--output=F.json]

For every (filters, models in the ladder) it times whole training steps as
the trainer runs them -- a batch cropped from the decoded images, put on
the devices, the step run to completion -- as the median of --repeats after
the compiling one. It reports seconds a step, images a second (batch x
models / step) and the projected wall time of --projected_steps steps for
every model of that ladder. --keras (needs TensorFlow) also times
`bls2017 train`'s step for one model at the same configuration, in the
same process, so the two can be compared as a ratio.
"""

import os
import sys
import tempfile

import jax
import numpy as np
from absl import app, flags, logging

from bls2017.core import images, patches, timing
from bls2017.jax_twin import model, params_io, train
from bls2017.core.timing import median_seconds

_FLAGS = flags.FLAGS


def jax_row(arrays, filters, models, form):
  """Seconds of one ladder step with `models` models of `filters` filters,
  the ladder in `form` (train.make_step)."""
  config = train.LadderConfig(
      train_glob=_FLAGS.train_glob, model_dir=tempfile.gettempdir(),
      lambdas=np.geomspace(1e-3, 1e-1, models).tolist(), num_filters=filters,
      channels=int(_FLAGS.channels), patchsize=_FLAGS.patchsize,
      batchsize=_FLAGS.batchsize)
  batch_sharding, replicated = train.shardings(config.batchsize)
  optimizer = train.make_optimizer(config)
  params = train.initial_params(config)
  state = [jax.device_put(train.TrainState(
      np.zeros((), np.int32), params, optimizer.init(params)), replicated)]
  step_fn = train.make_step(config.architecture, config.lambdas, optimizer,
                            config.seed, form)
  weights = patches.area_weights(arrays)

  def step():
    x = patches.batch_at(arrays, weights, config.patchsize,
                         config.batchsize, config.seed, int(state[0].step))
    state[0], figures = step_fn(state[0], jax.device_put(x, batch_sharding))
    jax.block_until_ready(figures)
  seconds = median_seconds(step, _FLAGS.repeats)
  return {"trainer": "jax", "filters": filters, "models": models,
          "ladder_form": form, **sizes(config.architecture),
          "seconds_per_step": seconds,
          "images_per_second": config.batchsize * models / seconds,
          "projected_hours": _FLAGS.projected_steps * seconds / 3600}


def sizes(arch):
  """Parameters a model, its float16 weights file and the checkpoint's
  share (float32 parameters and Adam's two moments), in MiB."""
  count = sum(int(np.prod(shape)) for _, shape in model.variables(arch))
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "m.weights.npz")
    params_io.write_weights(path, model.init(jax.random.key(0), arch), arch,
                            .01, {}, "float16")
    weights_mib = os.path.getsize(path) / 2 ** 20
  return {"parameters": count, "weights_file_mib": round(weights_mib, 2),
          "checkpoint_mib": round(12 * count / 2 ** 20, 2)}


def keras_row(arrays, filters):
  """Seconds of `bls2017 train`'s step (one model) at the same settings."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from bls2017.paper.model import BLS2017Model  # pylint: disable=import-outside-toplevel
  tf.keras.utils.set_random_seed(0)
  keras_model = BLS2017Model(0.01, filters, int(_FLAGS.channels))
  keras_model.compile(optimizer=tf.keras.optimizers.Adam(1e-4))
  step_fn = tf.function(keras_model.train_step)
  rng = np.random.default_rng(0)
  weights = patches.area_weights(arrays)

  def step():
    x = np.stack([patches.random_patch(arrays, weights, _FLAGS.patchsize, rng)
                  for _ in range(_FLAGS.batchsize)])
    step_fn(tf.constant(x))["loss"].numpy()
  seconds = median_seconds(step, _FLAGS.repeats)
  return {"trainer": "keras", "filters": filters, "models": 1,
          "seconds_per_step": seconds,
          "images_per_second": _FLAGS.batchsize / seconds,
          "projected_hours": _FLAGS.projected_steps * seconds / 3600}


def define_flags():
  """The command's flags; defined when it runs, so that importing this
  module leaves absl's global flags (which every absl parser sees) alone."""
  flags.DEFINE_string("train_glob", None, "Glob of training images.",
                      required=True)
  flags.DEFINE_list("filters", ["128", "192"], "Filter counts to time.")
  flags.DEFINE_list("ladders", ["1", "8"], "Models a run (lambdas) to time.")
  flags.DEFINE_enum("channels", "3", ["1", "3"], "Image channels.")
  flags.DEFINE_integer("patchsize", 256, "Side of the training patches.")
  flags.DEFINE_integer("batchsize", 8, "Patches a step.")
  flags.DEFINE_integer("repeats", 10, "Timed steps per configuration (after "
                       "a warm-up); the median is reported.")
  flags.DEFINE_integer("projected_steps", 200000, "Steps a model to project "
                       "the wall time of.")
  flags.DEFINE_bool("keras", False, "Also time the Keras (TensorFlow) step of "
                    "one model.")
  flags.DEFINE_list("ladder_forms", ["unrolled"], "How a ladder's models "
                    f"share the step: any of {', '.join(train.LADDER_FORMS)}"
                    " (ladders of one model are timed once).")
  flags.DEFINE_string("output", "jax_training_benchmark.json",
                      "JSON to write.")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  arrays = patches.load_images(_FLAGS.train_glob, int(_FLAGS.channels),
                               _FLAGS.patchsize)
  rows = []
  for filters in map(int, _FLAGS.filters):
    if _FLAGS.keras:
      rows.append(keras_row(arrays, filters))
      print(_line(rows[-1]), flush=True)
    for models in map(int, _FLAGS.ladders):
      for form in _FLAGS.ladder_forms[:1] if models == 1 else (
          _FLAGS.ladder_forms):
        rows.append(jax_row(arrays, filters, models, form))
        print(_line(rows[-1]), flush=True)
  result = {"config": {k: _FLAGS[k].value for k in (
      "filters", "ladders", "channels", "patchsize", "batchsize", "repeats",
      "projected_steps", "ladder_forms")}, "hardware": train.hardware(),
            "machine": timing.machine(), "jax": jax.__version__,
            "rows": rows}
  images.write_json(_FLAGS.output, result)
  print(f"Wrote {_FLAGS.output} ({result['hardware']})")


def _line(row):
  return (f"{row['trainer']:<6}{row['filters']:>4} filters {row['models']:>2}"
          f" models {row.get('ladder_form', ''):<9}"
          f"{row['seconds_per_step']:.4f} s/step  "
          f"{row['images_per_second']:.1f} images/s  "
          f"{row['projected_hours']:.1f} h for {_FLAGS.projected_steps} "
          "steps")


if __name__ == "__main__":
  define_flags()
  if "--keras" in sys.argv:
    # Imported inside app.run, TensorFlow cannot create TFC's variables
    # (BUILD_NOTES.md, "Things found"); so before it, when it is needed.
    import tensorflow  # pylint: disable=unused-import
  app.run(main)
