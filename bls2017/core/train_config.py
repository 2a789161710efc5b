"""Training configurations: dataclasses that the commands fill in from their
flags and the trainers take. Plain Python, importable without TensorFlow
(a command's `--help` is built before TensorFlow loads) or JAX.

    TrainConfig            data, schedule, seed: every trainer
    +-- KerasTrainConfig   model file, checkpoints, tf.distribute strategy:
    |   |                  the Keras `train` command of every system
    |   +-- each system's Config (`bls2017.paper.Config`,
    |                      `cae_admm.config.Config`, ...)
    +-- LadderConfig       the JAX ladder trainer (`bls2017.jax_twin.train`)
    (mnist_demo.training.Config, the tutorial's, shares only `from_flags`)

A field's name is its flag's name in every command that has the flag, and
its default is the flag's (`commands.use_config_defaults`).
"""

import dataclasses
from typing import Optional

# tf.distribute strategies `bls2017.core.training.distribution_strategy` builds.
STRATEGIES = ("one_device", "mirrored", "multi_worker")
LR_SCHEDULES = ("constant", "cosine", "plateau")
# GDN's forms (`bls2017.core.layers.GDN_EXPONENTS`): the paper's, and the
# simplified one of the models trained before the choice existed.
GDN_FORMS = ("paper", "simplified")


def from_flags(cls, flags, **overrides):
  """The `cls` dataclass of parsed flags (argparse Namespace or absl
  FLAGS): each field takes the flag of its name where the command has one;
  `overrides` win."""
  values = {f.name: getattr(flags, f.name)
            for f in dataclasses.fields(cls) if hasattr(flags, f.name)}
  return cls(**dict(values, **overrides))


@dataclasses.dataclass
class TrainConfig:
  """Data, schedule and seed: what every trainer of the project takes."""
  train_glob: Optional[str] = None  # None: the TFDS dataset below.
  tfds_dataset_name: str = "clic"
  channels: int = 3
  patchsize: int = 256
  batchsize: int = 8
  epochs: int = 1000
  steps_per_epoch: int = 1000
  learning_rate: float = 1e-4
  lr_schedule: str = "constant"  # One of LR_SCHEDULES.
  # "plateau": epochs without a lower training loss before the rate halves.
  plateau_patience: int = 3
  flips: bool = False  # Random horizontal and vertical flips of patches.
  seed: Optional[int] = None
  train_dir: Optional[str] = None  # Checkpoints and logs.
  verbose: int = 1  # 0: quiet; 1: progress bar (2: Keras' line per epoch).
  command: str = ""  # The command line, recorded with the trained model.

  @property
  def total_steps(self):
    return self.epochs * self.steps_per_epoch

  from_flags = classmethod(from_flags)


@dataclasses.dataclass
class KerasTrainConfig(TrainConfig):
  """A Keras `train` run of any system: writes `model_path`, keeps
  resumable checkpoints in `train_dir` (default MODEL_PATH.train)."""
  model_path: str = "model.npz"
  checkpoint_every: int = 500  # Steps between checkpoints.
  strategy: str = "one_device"  # One of STRATEGIES.
  warm_start: Optional[str] = None  # A model file to start from.

  def __post_init__(self):
    self.train_dir = self.train_dir or self.model_path + ".train"
