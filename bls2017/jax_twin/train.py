"""The ladder trainer: one run trains one model per lambda, side by side.

    training images --decoded once--> patches.batch_at(seed, step)
        --> x [B, P, P, C] uint8, split over the local devices along B
        --> for every lambda_l at once (jax.vmap over stacked parameters):
              noise_l ~ U(-1/2, 1/2) from fold_in(key(seed), step), l
              loss_l = bpp_l + lambda_l * mse_l        (model.lagrangian)
        --> Adam on sum_l loss_l: each model's gradient is its own, and
            Adam is elementwise, so this is one independent Adam per model.

Every batch and every noise sample is a pure function of (seed, step), and
the checkpoint holds parameters, Adam's moments and the step, so a run that
stops (a time budget, a kill) and resumes takes exactly the steps an
uninterrupted run takes. A NaN or Inf loss stops the run before anything is
saved, as `bls2017 train` does; the last checkpoint stays the last good one.

Outputs, in --model_dir: one weights file per lambda (`params_io`), to be
given range-coding tables by `bls2017 finalize`; in --train_dir: the
checkpoint and log.jsonl (the training figures per model).
"""

import dataclasses
import json
import os
import time
from typing import NamedTuple, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from tqdm import tqdm

from bls2017.core import (images, patches, stored_weights, timing,
                          train_config)
from bls2017.paper.architecture import default_filters
from bls2017.jax_twin import model, params_io

CHECKPOINT = "checkpoint.npz"
# Keras' plateau halving (a callback) has no twin here.
SCHEDULES = tuple(s for s in train_config.LR_SCHEDULES if s != "plateau")
LADDER_FORMS = ("unrolled", "vmap")
# Keras' Adam epsilon, which `bls2017 train` uses (optax's default is 1e-8).
ADAM_EPSILON = 1e-7


class ConfigError(ValueError):
  """A training configuration that cannot be run as given."""


@dataclasses.dataclass
class LadderConfig(train_config.TrainConfig):
  """One ladder run: the models (lambdas, width), data, schedule, budget.

  The flags of `python -m bls2017.jax_twin` fill it in; the data and
  schedule fields are those of every trainer (`train_config.TrainConfig`),
  named as `bls2017 train` names them. train_glob is required.
  """
  lambdas: Sequence[float] = ()
  model_dir: str = "ladder"
  num_filters: Optional[int] = None  # None: default_filters(channels).
  gdn: str = "simplified"  # One of train_config.GDN_FORMS.
  seed: int = 0
  warm_start: Sequence[str] = ()
  model_prefix: str = "lambda-"
  checkpoint_minutes: float = 5.
  max_minutes: float = 0.  # Stop (resumably) after this long; 0: never.
  max_steps: int = 0  # Stop (resumably) at this step; 0: at the end.
  log_every: int = 100
  weights_dtype: str = "float16"
  ladder_form: str = "unrolled"  # See make_step.
  compilation_cache: Optional[str] = None  # JAX's persistent cache dir.
  commit: Optional[str] = None  # None: the checkout's (timing.commit).

  def __post_init__(self):
    self.lambdas = tuple(float(l) for l in self.lambdas)
    self.warm_start = tuple(self.warm_start)
    if self.num_filters is None:
      self.num_filters = default_filters(self.channels)
    self.train_dir = self.train_dir or os.path.join(self.model_dir, "train")

  @property
  def architecture(self):
    return model.Architecture(self.num_filters, self.channels, self.gdn)

  def identity(self):
    """What a checkpoint must agree on to be resumed by this run."""
    return {"lambdas": list(self.lambdas), "num_filters": self.num_filters,
            "channels": self.channels, "gdn": self.gdn, "patchsize": self.patchsize,
            "batchsize": self.batchsize, "seed": self.seed}

  def validate(self):
    problems = []
    if not self.train_glob:
      problems.append("--train_glob is required")
    if not self.lambdas or min(self.lambdas) <= 0:
      problems.append("--lambda needs one or more positive values")
    if len(set(self.lambdas)) != len(self.lambdas):
      problems.append("--lambda values must differ")
    if self.channels not in (1, 3):
      problems.append("--channels must be 1 or 3")
    if self.patchsize <= 0 or self.patchsize % model.STRIDE:
      problems.append(f"--patchsize must be a multiple of {model.STRIDE}")
    if self.lr_schedule not in SCHEDULES:
      problems.append(f"--lr_schedule must be one of {SCHEDULES}")
    if self.warm_start and len(self.warm_start) not in (1,
                                                        len(self.lambdas)):
      problems.append("--warm_start takes one model file, or one per lambda")
    if self.ladder_form not in LADDER_FORMS:
      problems.append(f"--ladder_form must be one of {LADDER_FORMS}")
    if self.weights_dtype not in stored_weights.FORMATS:
      problems.append(
          f"--weights_dtype must be one of {stored_weights.FORMATS}")
    if min(self.num_filters, self.batchsize, self.total_steps) <= 0:
      problems.append("filters, batch size and steps must be positive")
    if problems:
      raise ConfigError("; ".join(problems) + ".")


class TrainState(NamedTuple):
  step: jax.Array  # int32 scalar: steps taken.
  params: dict  # {name: [L, ...]}: the models, stacked along lambda.
  opt_state: optax.OptState


def make_optimizer(config):
  """Adam at --learning_rate, constant or cosine-decayed to 1 % (as Keras'
  CosineDecay with alpha=0.01 in `bls2017 train`)."""
  rate = config.learning_rate
  if config.lr_schedule == "cosine":
    rate = optax.cosine_decay_schedule(rate, config.total_steps, alpha=.01)
  return optax.adam(rate, eps=ADAM_EPSILON)


def make_step(arch, lambdas, optimizer, seed, form="unrolled"):
  """The jitted training step: (state, x) -> (state, (loss, bpp, mse)).

  form: how the ladder's models share the step. "unrolled": one subgraph a
  model in the same program, each convolution at its own size; "vmap":
  batched over the models, which turns every convolution after the first
  into a grouped one (2.8x slower than unrolled for 2 models on a CPU).
  Both give the same numbers.
  """
  lambdas = jnp.asarray(lambdas, jnp.float32)
  base_key = jax.random.key(seed)

  def one(p, lmbda, key, x):
    noise = jax.random.uniform(key, model.latent_shape(arch, x.shape),
                               jnp.float32, -.5, .5)
    loss, (bpp, mse) = model.lagrangian(p, x, noise, lmbda, arch.gdn)
    return loss, bpp, mse

  def ladder_loss(params, x, keys):
    if form == "vmap":
      figures = jax.vmap(one, (0, 0, 0, None))(params, lambdas, keys, x)
    else:
      figures = [jnp.stack(f) for f in zip(*(
          one(jax.tree_util.tree_map(lambda v, i=i: v[i], params),
              lambdas[i], keys[i], x) for i in range(len(lambdas))))]
    return jnp.sum(figures[0]), tuple(figures)

  def step(state, x):
    keys = jax.random.split(jax.random.fold_in(base_key, state.step),
                            len(lambdas))
    grads, figures = jax.grad(ladder_loss, has_aux=True)(state.params, x,
                                                         keys)
    updates, opt_state = optimizer.update(grads, state.opt_state,
                                          state.params)
    return TrainState(state.step + 1, optax.apply_updates(
        state.params, updates), opt_state), figures

  return jax.jit(step, donate_argnums=0)


def shardings(batchsize):
  """(batch, replicated) shardings over all local devices: data parallel."""
  devices = jax.local_devices()
  if batchsize % len(devices):
    raise ConfigError(f"--batchsize {batchsize} must be a multiple of the "
                      f"{len(devices)} local devices.")
  mesh = Mesh(np.array(devices), ("data",))
  return (NamedSharding(mesh, PartitionSpec("data")),
          NamedSharding(mesh, PartitionSpec()))


def stack(models):
  """[{name: array}] -> {name: [L, ...]}."""
  return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *models)


def unstack(params, index):
  return {name: np.asarray(value[index]) for name, value in params.items()}


def initial_params(config):
  """Stacked parameters: warm-started from model files, or drawn afresh."""
  arch = config.architecture
  if not config.warm_start:
    # One draw for every lambda, as `bls2017 train --seed` gives each model.
    return stack([model.init(jax.random.key(config.seed), arch)] *
                 len(config.lambdas))
  sources = config.warm_start
  if len(sources) == 1:
    sources = sources * len(config.lambdas)
  models = []
  for path in sources:
    params, source_arch, _, _ = params_io.read(path)
    if source_arch != arch:
      raise ConfigError(
          f"--warm_start {path} has {source_arch.num_filters} filters and "
          f"{source_arch.channels} channels; this run {arch.num_filters} "
          f"and {arch.channels}.")
    models.append(params)
  return stack(models)


def save_checkpoint(path, state, wall_seconds, identity):
  """Writes the state atomically; returns nothing until it is on disk."""
  arrays = {f"params/{k}": np.asarray(v) for k, v in state.params.items()}
  for i, leaf in enumerate(jax.tree_util.tree_leaves(state.opt_state)):
    arrays[f"opt/{i}"] = np.asarray(leaf)
  arrays["step"] = np.asarray(state.step)
  arrays["wall_seconds"] = np.asarray(wall_seconds, np.float64)
  arrays["identity"] = np.array(json.dumps(identity, sort_keys=True))
  with images.atomic_output(path) as f:
    np.savez(f, **arrays)


def restore_checkpoint(path, template, identity):
  """(state, wall_seconds) from `path`, shaped like `template`."""
  with np.load(path, allow_pickle=False) as archive:
    stored = json.loads(str(archive["identity"]))
    if stored != identity:
      raise ConfigError(
          f"{path} is the checkpoint of another run ({stored}); this run is "
          f"{identity}. Use another --train_dir or the same flags.")
    params = {k: jnp.asarray(archive[f"params/{k}"]) for k in template.params}
    leaves, treedef = jax.tree_util.tree_flatten(template.opt_state)
    opt_leaves = [jnp.asarray(archive[f"opt/{i}"]) for i in range(len(leaves))]
    state = TrainState(jnp.asarray(archive["step"]), params,
                       jax.tree_util.tree_unflatten(treedef, opt_leaves))
    return state, float(archive["wall_seconds"])


def hardware():
  """What the run trains on, e.g. "1 x NVIDIA H100 (gpu), 16 CPU cores"."""
  devices = jax.local_devices()
  return (f"{len(devices)} x {devices[0].device_kind} "
          f"({jax.default_backend()}), {os.cpu_count()} CPU cores")


class _Figures:
  """Per-step (loss, bpp, mse) left on the device until a log line needs
  them, so the host never waits for the accelerator between steps."""

  def __init__(self, lambdas, log_path):
    self.lambdas = lambdas
    self.log_path = log_path
    self.pending = []
    self.last = None

  def add(self, figures):
    self.pending.append(figures)

  def flush(self, step, wall_seconds):
    """Averages the pending figures, refuses non-finite ones, logs them."""
    if not self.pending:
      return self.last
    loss, bpp, mse = (np.mean(a, axis=0) for a in
                      zip(*jax.device_get(self.pending)))
    self.pending = []
    bad = [l for l, v in zip(self.lambdas, loss) if not np.isfinite(v)]
    if bad:
      raise FloatingPointError(
          f"Training stopped: the loss of lambda {', '.join(map(str, bad))} "
          f"became NaN or Inf before step {step}. The last good checkpoint "
          "is kept; lower --learning_rate.")
    self.last = {"step": step, "wall_seconds": round(wall_seconds, 1),
                 "lambda": list(self.lambdas), "loss": loss.tolist(),
                 "bpp": bpp.tolist(), "mse": mse.tolist()}
    with open(self.log_path, "a") as f:
      f.write(json.dumps(self.last) + "\n")
    return self.last


def _postfix(figures):
  bpp, mse = figures["bpp"], figures["mse"]
  return (f"bpp {min(bpp):.3f}-{max(bpp):.3f} "
          f"mse {min(mse):.1f}-{max(mse):.1f}")


def train(config):
  """Runs (or resumes) the ladder; returns the weights files written.

  Stops at the last step, at --max_steps, or after --max_minutes, always
  with a checkpoint and the weights files of the state reached.
  """
  config.validate()
  start = time.time()
  arrays = patches.load_images(config.train_glob, config.channels,
                               config.patchsize)
  weights = patches.area_weights(arrays)
  batch_sharding, replicated = shardings(config.batchsize)
  optimizer = make_optimizer(config)
  os.makedirs(config.train_dir, exist_ok=True)
  os.makedirs(config.model_dir, exist_ok=True)
  checkpoint = os.path.join(config.train_dir, CHECKPOINT)
  state, earlier_seconds = _initial_state(config, optimizer, checkpoint)
  state = jax.device_put(state, replicated)
  if config.compilation_cache:
    jax.config.update("jax_compilation_cache_dir", config.compilation_cache)
  step_fn = make_step(config.architecture, config.lambdas, optimizer,
                      config.seed, config.ladder_form)
  figures = _Figures(config.lambdas,
                     os.path.join(config.train_dir, "log.jsonl"))
  step = int(state.step)
  stop_step = min(config.max_steps or config.total_steps, config.total_steps)
  saved_at = time.time()
  wall = lambda: earlier_seconds + time.time() - start
  with tqdm(total=config.total_steps, initial=step, unit="step",
            desc=f"ladder of {len(config.lambdas)}", dynamic_ncols=True,
            disable=not config.verbose) as progress:
    while step < stop_step:
      if config.max_minutes and time.time() - start > 60 * config.max_minutes:
        break
      x = patches.batch_at(arrays, weights, config.patchsize,
                           config.batchsize, config.seed, step)
      state, step_figures = step_fn(state, jax.device_put(x, batch_sharding))
      figures.add(step_figures)
      step += 1
      progress.update()
      if step % config.log_every == 0:
        progress.set_postfix_str(_postfix(figures.flush(step, wall())))
      if time.time() - saved_at > 60 * config.checkpoint_minutes:
        figures.flush(step, wall())
        save_checkpoint(checkpoint, state, wall(), config.identity())
        saved_at = time.time()
  last = figures.flush(step, wall())
  save_checkpoint(checkpoint, state, wall(), config.identity())
  return _write_weights(config, state, step, wall(), last)


def _initial_state(config, optimizer, checkpoint):
  params = initial_params(config)
  state = TrainState(jnp.zeros((), jnp.int32), params,
                     optimizer.init(params))
  if os.path.exists(checkpoint):
    return restore_checkpoint(checkpoint, state, config.identity())
  return state, 0.


def weights_path(config, lmbda):
  return os.path.join(config.model_dir, f"{config.model_prefix}{lmbda:g}"
                      f"{params_io.WEIGHTS_SUFFIX}")


def _write_weights(config, state, step, wall_seconds, last):
  """One weights file per lambda, recording the run that made it."""
  params = jax.device_get(state.params)
  commit = config.commit or timing.commit()
  run = {
      "trainer": "bls2017.jax_twin", "command": config.command,
      "steps": step, "finished": step >= config.total_steps,
      "total_steps_planned": config.total_steps,
      "patchsize": config.patchsize, "batchsize": config.batchsize,
      "learning_rate": config.learning_rate,
      "lr_schedule": config.lr_schedule, "seed": config.seed,
      "ladder": list(config.lambdas), "hardware": hardware(),
      "jax": jax.__version__, "wall_seconds": round(wall_seconds, 1),
      "commit": commit}
  if config.warm_start:
    run["warm_start"] = [os.path.basename(p) for p in config.warm_start]
  paths = []
  for index, lmbda in enumerate(config.lambdas):
    metadata = dict(run)
    if last:
      metadata.update({f"final_train_{k}": last[k][index]
                       for k in ("loss", "bpp", "mse")})
    path = weights_path(config, lmbda)
    params_io.write_weights(path, unstack(params, index),
                            config.architecture, lmbda, metadata,
                            config.weights_dtype)
    paths.append(path)
  return paths
