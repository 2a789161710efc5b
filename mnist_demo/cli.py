"""The `mnist_demo` command: the learned data compression tutorial on MNIST.

    mnist_demo train --lambda=2000            # 15 epochs, as the tutorial
    mnist_demo codec                          # 16 digits -> strings -> digits
    mnist_demo sweep --lambdas=2000,500,300   # the rate-distortion trade-off
    mnist_demo sample                         # digits from random strings
    mnist_demo export                         # SavedModels

Data: `tfds.load("mnist")` by default; offline, --mnist_dir=DIR with the four
MNIST IDX files.
"""

from absl.flags import argparse_flags

from bls2017.core import lazy
from bls2017.core.commands import command_line, run_command, run_reporting_errors

# Loaded on first use: parsing the command line needs no TensorFlow.
data = lazy.module("mnist_demo.data")
training = lazy.module("mnist_demo.training")


def _common(p, output_help="Directory holding the trained model."):
  p.add_argument("--output_dir", default="mnist_out", help=output_help)
  p.add_argument("--mnist_dir", default=None,
                 help="Directory with the four MNIST IDX files (.gz or not);"
                 " default: tfds.load('mnist'), which downloads it once.")


def _train_flags(p):
  p.add_argument("--epochs", type=int, default=15, help="Training epochs.")
  p.add_argument("--batchsize", type=int, default=128, help="Digits a step.")
  p.add_argument("--latent_dims", type=int, default=50,
                 help="Dimensions of the latent y.")
  p.add_argument("--learning_rate", type=float, default=1e-3,
                 help="Adam learning rate.")
  p.add_argument("--train_digits", type=int, default=0,
                 help="Train on the first N digits only (0: all 60000).")
  p.add_argument("--seed", type=int, default=None, help="Random seed.")
  p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                 help="Keras verbosity: 1 is a progress bar.")


def parse_args(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n")[0],
      formatter_class=argparse_flags.argparse.RawDescriptionHelpFormatter,
      epilog=__doc__.split("\n", 1)[1])
  sub = parser.add_subparsers(title="commands", dest="command_name",
                              required=True)

  p = sub.add_parser("train", help="Train on rate + lambda * distortion.")
  _common(p, "Where to write the model, its record and figures.")
  _train_flags(p)
  p.add_argument("--lambda", dest="lmbda", type=float, default=2000.,
                 help="Weight of the distortion (the tutorial: 2000, then "
                 "500 and 300).")
  p.set_defaults(command=_train)

  p = sub.add_parser("codec", help="Compress validation digits to strings.")
  _common(p)
  p.add_argument("--digits", type=int, default=16,
                 help="Digits to show in the grid.")
  p.set_defaults(command=_codec)

  p = sub.add_parser("sweep", help="Train several lambdas; plot the "
                     "trade-off.")
  _common(p, "Where to write one model per lambda and the plot.")
  _train_flags(p)
  p.add_argument("--lambdas", default="2000,500,300",
                 help="Comma-separated lambdas.")
  p.set_defaults(command=_sweep)

  p = sub.add_parser("sample", help="Decode random bit strings to digits.")
  _common(p)
  p.add_argument("--samples", type=int, default=16, help="How many.")
  p.add_argument("--string_bytes", type=int, default=8,
                 help="Length of each random string.")
  p.add_argument("--seed", type=int, default=0, help="Random seed.")
  p.set_defaults(command=_sample)

  p = sub.add_parser("export", help="Write Compressor and Decompressor "
                     "SavedModels to OUTPUT_DIR/export.")
  _common(p)
  p.set_defaults(command=_export)
  return parser.parse_args(argv[1:])


def _config(args):
  return training.Config.from_flags(
      args, command=command_line("mnist_demo"))


def _train(args):
  record = training.train(_config(args))
  print(f"Wrote {args.output_dir}: validation rate "
        f"{record['validation']['rate']:.2f} bits/digit, distortion "
        f"{record['validation']['distortion']:.4f}")


def _codec(args):
  result = training.codec_report(args.output_dir, args.mnist_dir,
                                 args.digits)
  for s, bits in zip(result["strings"], result["bits"]):
    print(f"0x{s.hex():<40} {8 * len(s):>4} bits  ({bits:.1f} information)")
  print(f"All test digits: mean string {result['string_bits']:.2f} bits, "
        f"information content {result['information_bits']:.2f} bits, "
        f"distortion {result['distortion']:.4f}")
  print(f"Wrote {result['figure']}")


def _sweep(args):
  points, figure = training.sweep(
      _config(args), [float(v) for v in args.lambdas.split(",")])
  print(f"{'lambda':>8}{'info bits':>11}{'string bits':>13}"
        f"{'distortion':>12}")
  for p in points:
    print(f"{p['lmbda']:>8g}{p['information_bits']:>11.2f}"
          f"{p['string_bits']:>13.2f}{p['distortion']:>12.4f}")
  print(f"Wrote {figure}")


def _sample(args):
  figure = training.sample(args.output_dir, args.samples, args.string_bytes,
                           args.seed)
  print(f"Wrote {figure}")


def _export(args):
  directory = training.export(args.output_dir)
  print(f"Wrote {directory}/compressor and {directory}/decompressor")


def main(args):
  run_reporting_errors(args, "mnist_demo",
                       (data.DataError, training.ModelDirError, OSError))


def run():
  run_command(main, parse_args)


if __name__ == "__main__":
  run()
