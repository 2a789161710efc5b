"""`cae_admm train`'s Config (TensorFlow-free; see `bls2017.paper.config`)."""

import dataclasses

from bls2017.core.train_config import KerasTrainConfig


@dataclasses.dataclass
class Config(KerasTrainConfig):
  """A `cae_admm train` run (the flags of the same names)."""
  model_path: str = "cae_admm.npz"
  patchsize: int = 128
  lr_schedule: str = "plateau"  # As described: halved on plateaus.
  flips: bool = True
  admm: str = "full"  # One of cae_admm.ADMM_MODES.
  keep_fraction: float = 0.1  # l as a fraction of the latents.
  rho: float = 50.0
  admm_every_epochs: int = 1
  retrain_fraction: float = 0.3
  pruning: bool = True
  ms_ssim_weight: float = 0.0
  ssim_weight: float = 0.0
  mse_fraction: float = 0.0  # First fraction of the steps on MSE alone.
  num_filters: int = 64
  latent_channels: int = 32
