"""What bounds training speed: input pipeline, transforms, GDN, prior, XLA.

    python -m bls2017.training_benchmark --train_glob='photos/**/*.png' \
        [--patchsize 128] [--batchsize 8] [--num_filters 128] \
        [--gdn simplified] [--repeats 20] [--output F.json]

Measures, as the median seconds of --repeats runs after a warm-up:
  * input only: batches from the plain pipeline (each step reads and decodes
    PNGs, then crops) and from the one the trainer uses (images decoded once,
    cropped from memory, prefetched);
  * a whole training step fed by each pipeline (as Keras fit would run it);
  * on one fixed batch: the training step with the kernels made by tfc's
    irfft2d (the trainer before `layers.rdft_kernel`) and by one matrix
    product (the trainers now), the six kernels alone made each way, the
    step's parts (the two transforms with their GDNs, the GDN/IGDN layers
    alone, the prior's rate), the step compiled with XLA, and the
    transforms with their convolutions in mixed bfloat16.
"""

import glob as glob_lib
import time

from absl.flags import argparse_flags

from bls2017.core import commands, images, lazy, train_config
from bls2017.core.timing import add_timing_flags, machine
from bls2017.core.timing import median_seconds as _median_seconds

# Loaded at first use: --help and usage errors answer before TensorFlow.
tf = lazy.module("tensorflow")
data = lazy.module("bls2017.core.data")
paper_model = lazy.module("bls2017.paper.model")
layers = lazy.module("bls2017.core.layers")


def plain_pipeline(pattern, patchsize, batchsize):
  """The naive tf.data input: decode a PNG for every patch."""
  paths = sorted(glob_lib.glob(pattern, recursive=True))

  def patch(path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3,
                               expand_animations=False)
    return tf.image.random_crop(image, (patchsize, patchsize, 3))
  return (tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths))
          .repeat().map(patch).batch(batchsize))


def _gradient_seconds(fn, variables, inputs, repeats):
  # Inputs are arguments, not captured constants, as in a training step.
  @tf.function
  def step(*inputs):
    with tf.GradientTape() as tape:
      loss = fn(*inputs)
    return tape.gradient(loss, variables)
  return _median_seconds(lambda: step(*inputs), repeats)


def component_rows(model, batch, repeats):
  """Forward + backward seconds of the training step and of its parts."""
  x = tf.cast(batch, tf.float32)
  y = model.g_a(x)
  rows = []

  def transforms(x):
    y = model.g_a(x)
    y_tilde = y + tf.random.uniform(tf.shape(y), -.5, .5)
    return tf.reduce_mean(tf.square(x - model.g_s(y_tilde)))
  gdns = [layer.activation for layer in model.g_a.layers[1:3] +
          model.g_s.layers[0:2]]
  gdn_inputs = [tf.random.normal(shape)
                for shape in _gdn_input_shapes(model, x)]

  def gdn_only(*inputs):
    return tf.add_n([tf.reduce_sum(g(u)) for g, u in zip(gdns, inputs)])

  def prior_only(y):
    _, bits = model.entropy_model(compression=False,
                                  offset_heuristic=False)(y, training=True)
    return tf.reduce_sum(bits)
  for what, fn, variables, inputs in (
      ("g_a + g_s with GDN (fwd+bwd)", transforms,
       model.g_a.trainable_variables + model.g_s.trainable_variables, [x]),
      ("GDN/IGDN layers alone (fwd+bwd)", gdn_only,
       [v for g in gdns for v in g.trainable_variables], gdn_inputs),
      ("prior rate (fwd+bwd)", prior_only,
       model.prior.trainable_variables, [y])):
    rows.append({"what": what, "seconds": _gradient_seconds(
        fn, variables, inputs, repeats)})
  return rows


def _gdn_input_shapes(model, x):
  """Shapes of the tensors the four GDN/IGDN layers see for input x."""
  shapes = []
  u = x
  for layer in model.g_a.layers[:3]:
    u = layer(u)
    if layer.name in ("layer_0", "layer_1"):
      shapes.append(u.shape)
  for layer in model.g_s.layers[:2]:
    u = layer(u)
    shapes.append(u.shape)
  return shapes


def kernel_rows(model, repeats):
  """Seconds to make the transforms' six kernels (forward and backward),
  by irfft2d and by matrix product."""
  convs = [layer for layer in model.g_a.layers + model.g_s.layers
           if isinstance(layer, layers.SignalConv2D)]
  variables = [v for c in convs for v in c.kernel_parameter.variables]
  rows = []
  for what, by_matmul in (("irfft2d", False), ("matrix product", True)):
    layers.set_kernel_by_matmul(model, by_matmul)

    def kernels():
      return tf.add_n([tf.reduce_sum(tf.square(c.kernel)) for c in convs])
    rows.append({"what": f"the six kernels by {what} (fwd+bwd)",
                 "seconds": _gradient_seconds(lambda _: kernels(), variables,
                                              [tf.constant(0.)], repeats)})
  return rows


def precision_rows(model, batch, repeats):
  """g_a + g_s of the model's shapes, forward and backward, with the
  convolutions in float32 and in mixed bfloat16 (GDN in float32 both
  times): what bf16 arithmetic would buy the step on this CPU."""
  x = tf.cast(batch, tf.float32)
  rows = []
  for policy in ("float32", "mixed_bfloat16"):
    stack = _transforms_stack(model, policy)

    def transforms(x, stack=stack):
      return tf.reduce_mean(tf.square(tf.cast(stack(x), tf.float32) - x))
    rows.append({"what": f"g_a + g_s, convolutions in {policy} (fwd+bwd)",
                 "seconds": _gradient_seconds(
                     transforms, stack.trainable_variables, [x], repeats)})
  return rows


def _transforms_stack(model, policy):
  """The six convolutions of model.g_a and g_s (kernels by matrix
  product) with GDN/IGDN after the first two of each, in one Sequential
  whose convolutions compute in `policy`."""
  convs = []
  stages = [(False, layer) for layer in model.g_a.layers[1:]] + [
      (True, layer) for layer in model.g_s.layers[:-1]]
  for i, (up, layer) in enumerate(stages):
    gdn = layers.gdn(up, f"gdn_{i}", model.gdn) if layer.activation else None
    if gdn is not None:
      gdn = type(gdn)(inverse=up, alpha_parameter=gdn.alpha_parameter,
                      epsilon_parameter=gdn.epsilon_parameter,
                      dtype="float32")
    stride = layer.strides_up if up else layer.strides_down
    conv = layers.SignalConv2D(
        layer.filters, layer.kernel_support, corr=not up,
        padding="same_zeros", use_bias=True, activation=gdn,
        dtype=policy, name=f"layer_{i}",
        **{"strides_up" if up else "strides_down": stride})
    conv.kernel_by_matmul = True
    convs.append(conv)
  stack = tf.keras.Sequential(convs)
  stack.build((None, None, None, model.channels))
  return stack


def step_rows(model, batch, plain, cached, repeats):
  """Training step seconds: fixed batch (kernels by irfft2d, as before
  `layers.rdft_kernel`, and by matrix product), fed by each pipeline, and
  XLA."""
  layers.set_kernel_by_matmul(model, False)
  step = tf.function(model.train_step)
  rows = [{"what": "train step, fixed batch, kernels by irfft2d",
           "seconds": _median_seconds(lambda: step(batch), repeats)}]
  layers.set_kernel_by_matmul(model, True)
  step = tf.function(model.train_step)
  rows.append({"what": "train step, fixed batch, kernels by matrix product",
               "seconds": _median_seconds(lambda: step(batch), repeats)})
  for what, iterator in (("plain", plain), ("decoded once", cached)):
    rows.append({"what": f"train step fed by {what} input",
                 "seconds": _median_seconds(lambda: step(next(iterator)),
                                            repeats)})
  try:
    xla = tf.function(model.train_step, jit_compile=True)
    rows.append({"what": "train step, fixed batch, XLA",
                 "seconds": _median_seconds(lambda: xla(batch), repeats)})
  except (tf.errors.OpError, ValueError) as e:
    rows.append({"what": f"train step with XLA: fails ({type(e).__name__})"})
  return rows


def parse_args(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n")[0])
  parser.add_argument("--train_glob", required=True,
                      help="Glob of training PNGs (** recurses).")
  parser.add_argument("--patchsize", type=int, default=128,
                      help="Side of the training patches.")
  parser.add_argument("--batchsize", type=int, default=8,
                      help="Patches a step.")
  parser.add_argument("--num_filters", type=int, default=128,
                      help="Filters per layer of the timed model.")
  parser.add_argument("--gdn", choices=train_config.GDN_FORMS,
                      default="simplified", help="GDN's form.")
  add_timing_flags(parser, repeats=20, output="training_benchmark.json")
  return parser.parse_args(argv[1:])


def main(args):
  plain = iter(plain_pipeline(args.train_glob, args.patchsize,
                              args.batchsize))
  start = time.perf_counter()
  arrays = data.load_images(args.train_glob, 3, args.patchsize)
  rows = [{"what": f"decode {len(arrays)} training images once",
           "seconds": time.perf_counter() - start}]
  cached = iter(data.patch_dataset(arrays, args.patchsize, args.batchsize))
  rows += [{"what": "input only: plain (decode PNG per patch)",
            "seconds": _median_seconds(lambda: next(plain), args.repeats)},
           {"what": "input only: decoded once, prefetched",
            "seconds": _median_seconds(lambda: next(cached), args.repeats)}]
  tf.keras.utils.set_random_seed(0)
  model = paper_model.BLS2017Model(num_filters=args.num_filters,
                                   gdn=args.gdn)
  model.compile(optimizer=tf.keras.optimizers.Adam(1e-4))
  batch = next(cached)
  rows += step_rows(model, batch, plain, cached, args.repeats)
  rows += kernel_rows(model, args.repeats)
  rows += component_rows(model, batch, args.repeats)
  rows += precision_rows(model, batch, args.repeats)
  for row in rows:
    if "seconds" in row:
      row["per_second"] = 1 / row["seconds"]
    figures = "  ".join(f"{k} {v:.4f}" for k, v in row.items()
                        if k != "what")
    print(f"{row['what']:<44}{figures}")
  # Where the figures were written is not a figure (and names a machine).
  config = {k: v for k, v in vars(args).items() if k != "output"}
  images.write_json(args.output, {"config": config, "machine": machine(),
                                  "rows": rows})
  print(f"Wrote {args.output}")


if __name__ == "__main__":
  commands.run_command(main, parse_args)
