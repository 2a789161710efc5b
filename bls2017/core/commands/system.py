"""A system's command: `train` from its config, `ablation`, its own
subcommands, and the coding commands (`SystemCommand`).

A system's command (`bls2017.cli`, `cae_admm.cli`, ...) is one
`SystemCommand`; the rest comes from `coding` and `toolkit`.
"""

import os

from absl.flags import argparse_flags

from bls2017.core import lazy
from bls2017.core.commands.coding import add_codec_parsers
from bls2017.core.commands.toolkit import (add_training_flags, command_line,
                                           run_command, run_reporting_errors,
                                           use_config_defaults,
                                           user_error_types)


def add_ablation_parser(subparsers, what, load, run_ablation):
  """The related systems' `ablation` command.

  load(path) -> codec; run_ablation(codecs, names, paths, output) -> {name:
  figures} (each system's `ablation.run`).
  """
  p = subparsers.add_parser(
      "ablation", help="The paper's ablation on a set of images.",
      description=f"For each model ({what}); writes JSON.")
  p.add_argument("images", help="Directory or glob of PNG/JPEG images.")
  p.add_argument("--model", "--model_path", dest="models", action="append",
                 required=True, help="Model file; repeat for several.")
  p.add_argument("--output", default="ablation.json",
                 help="JSON file to write.")

  def ablation(args):
    from bls2017.core import evaluation  # pylint: disable=import-outside-toplevel
    paths = evaluation.image_paths(args.images)
    codecs = [load(name) for name in args.models]
    # Results name models by file name (no folders of this machine in
    # them), by path where two file names are the same.
    names = [os.path.basename(path) for path in args.models]
    if len(set(names)) < len(names):
      names = args.models
    results = run_ablation(codecs, names, paths, args.output)
    for name, figures in results.items():
      print(name, "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else
                            f"{k} {v}" for k, v in figures.items()
                            if k != "vs_first"))
      differences = figures.get("vs_first", {})
      for k, d in differences.items():
        if k != "model":
          print(f"  {k} {d['mean']:+.4f} [{d['ci95'][0]:+.4f}, "
                f"{d['ci95'][1]:+.4f}] (95 % CI) vs {differences['model']}")
    print(f"Wrote {args.output}")
  p.set_defaults(command=ablation)


class SystemCommand:
  """The command of a system (`bls2017`, `cae_admm`, `content_weighted`):
  `train` (the shared training flags and the system's, filled into its
  `config` and run by TRAINER.train), `ablation` (PACKAGE.ablation.run) if
  it has one, any subcommands of its own, and the coding commands.

  package: the system's package, also the command's name.
  doc: the command's description, then its `train` example.
  config: its config dataclass, where every flag's default is stated.
  add_train_flags(parser): the flags of its `train` beyond the shared ones.
  ablation_what: what its ablation compares (None: it has none).
  add_parsers(subparsers): its own subcommands (the paper's demo, ...).
  shipped: it ships models (a default --model, --target_bpp).
  trainer: the module with its `train(config)`; default PACKAGE.train.
  """

  def __init__(self, package, doc, config, train_help, train_description,
               add_train_flags, ablation_what=None, add_parsers=None,
               shipped=False, trainer=None):
    self.package = package
    self.config = config
    self.train_help = train_help
    self.train_description = train_description
    self.add_train_flags = add_train_flags
    self.ablation_what = ablation_what
    self.add_parsers = add_parsers
    # Loaded on first use: parsing the command line needs no TensorFlow.
    self.trainer = lazy.module(trainer or f"{package}.train")
    if ablation_what:
      self.codec = lazy.module(f"{package}.codec")
      self.ablation = lazy.module(f"{package}.ablation")
    epilog = "" if shipped else f"""
    {package} compress --model_path=m.npz photo.png     # photo.png.tfci
    {package} decompress --model_path=m.npz photo.png.tfci
    {package} evaluate --model m.npz --model bls2017-mse-4 photos/

compress, decompress, export, evaluate and plot are the coding commands
every system's command shares; they take the model file of any system.
"""
    self.parse_args = command_parser(doc.rstrip() + "\n" + epilog,
                                     self._add_parsers, shipped=shipped)

  def _add_parsers(self, subparsers):
    p = subparsers.add_parser("train", help=self.train_help,
                              description=self.train_description)
    add_training_flags(p)
    self.add_train_flags(p)
    use_config_defaults(p, self.config)
    p.set_defaults(command=self._train)
    if self.ablation_what:
      add_ablation_parser(subparsers, self.ablation_what,
                          lambda name: self.codec.load(name),
                          lambda *args: self.ablation.run(*args))
    if self.add_parsers:
      self.add_parsers(subparsers)

  def _train(self, args):
    config = self.config.from_flags(args,
                                    command=command_line(self.package))
    self.trainer.train(config)
    print(f"Wrote {config.model_path}")

  def main(self, args):
    run_reporting_errors(args, self.package, user_error_types())

  def run(self):
    run_command(self.main, self.parse_args)


def command_parser(doc, add_system_parsers, shipped=True):
  """parse_args(argv) for a system's command: its own subcommands
  (add_system_parsers(subparsers): `train`, ...) + the coding commands.

  doc: the command module's docstring (first line: description; the rest:
  usage examples).
  """
  def parse_args(argv):
    parser = argparse_flags.ArgumentParser(
        description=doc.split("\n")[0],
        formatter_class=argparse_flags.argparse.RawDescriptionHelpFormatter,
        epilog=doc.split("\n", 1)[1])
    subparsers = parser.add_subparsers(
        title="commands", dest="command_name", required=True)
    add_system_parsers(subparsers)
    add_codec_parsers(subparsers, shipped)
    return parser.parse_args(argv[1:])
  return parse_args
