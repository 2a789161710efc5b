"""`python -m bls2017.campaign`: train the plan's ladder in resumable runs.

    python -m bls2017.campaign run --hours 2.5      # train, then stop cleanly
    python -m bls2017.campaign status               # steps, figures, ETA,
                                                    # MB added to the history
    python -m bls2017.campaign plot                 # the convergence figure
    python -m bls2017.campaign promote              # finished models -> zoo
    python -m bls2017.campaign store_again NAME     # a finished model's file,
                                                    # stored by today's rules

`run` trains the models of campaign/plan.json whose parents are done, two
at a time on two cores, each in a worker process of its own, until --hours
have passed; a later `run` resumes exactly where it stopped (checkpoints in
--state_dir, outside the repository). It shows one progress bar for the
whole plan with its ETA; the workers log steps, loss, bpp and MSE, write
validation figures at the plan's milestones into campaign/progress.json
and, when they stop, a snapshot of each model into campaign/snapshots/.
Where --state_dir was lost, a model resumes from its snapshot.
"""

import functools
import os
import signal
import subprocess
import sys
import time

from absl.flags import argparse_flags

from bls2017.campaign import plan as plan_lib
from bls2017.campaign import progress
from bls2017.core import commands, user_errors

CAMPAIGN_DIR = "campaign"
DEFAULT_STATE_DIR = os.path.join("~", ".cache", "bls2017", "campaign")


def parse_args(argv):
  parser = argparse_flags.ArgumentParser(
      description=__doc__.split("\n")[0],
      formatter_class=argparse_flags.argparse.RawDescriptionHelpFormatter,
      epilog=__doc__.split("\n", 1)[1])
  parser.add_argument("--plan", default=os.path.join(CAMPAIGN_DIR,
                                                     "plan.json"),
                      help="The plan file.")
  parser.add_argument("--progress", default=None,
                      help="The progress file. Default: progress.json "
                      "beside the plan.")
  parser.add_argument("--snapshot_dir", default=None,
                      help="Snapshots and finished models. Default: "
                      "snapshots/ beside the plan.")
  sub = parser.add_subparsers(title="commands", dest="command_name",
                              required=True)
  p = sub.add_parser("run", help="Train for a while, then stop cleanly.")
  _add_run_flags(p)
  p.add_argument("--hours", type=float, required=True,
                 help="Wall time of this run; workers checkpoint and stop "
                 "when it is up.")
  p.add_argument("--workers", type=int, default=2,
                 help="Models trained at once (each on cores / workers "
                 "threads).")
  p = sub.add_parser("train_model", help="Train one model of the plan in "
                     "this process (what `run` starts for each worker).")
  _add_run_flags(p)
  p.add_argument("name", help="The model's name in the plan.")
  p.add_argument("--deadline", type=float, required=True,
                 help="Stop at this time (seconds since the epoch).")
  sub.add_parser("status", help="Each model's steps, hours, latest "
                 "validation figures, and the plan's ETA.")
  p = sub.add_parser(
      "compare", help="Compare model files at one lambda on a set of "
      "images: mean bpp, PSNR, MS-SSIM and R + lambda D of each, and each "
      "one's paired difference from the first with its 95 %% interval.")
  p.add_argument("models", nargs="+", metavar="MODEL",
                 help="Model files; the first is the reference.")
  p.add_argument("--images", required=True,
                 help="Directory or glob of the images (the validation set).")
  p.add_argument("--output", required=True, help="JSON file to write.")
  p = sub.add_parser(
      "promote", help="Ship each finished model that lies above the zoo's "
      "curve on the validation set into bls2017/zoo (weights stored as the "
      "plan says).")
  p.add_argument("--data_dir", default=os.path.join("..", "shared", "data"),
                 help="The folder the plan's validation folder is under.")
  p.add_argument("--dry_run", action="store_true",
                 help="Say what would be promoted, and why; ship nothing.")
  p = sub.add_parser(
      "store_again", help="Write finished models' final files again from "
      "their checkpoints, stored as the storage rules now say, and "
      "validate them again (for models finished before a rule changed).")
  _add_run_flags(p)
  p.add_argument("names", nargs="+", metavar="NAME",
                 help="Finished models of the plan.")
  p = sub.add_parser("plot", help="Validation figures against steps.")
  p.add_argument("--output", default=None,
                 help="PNG to write. Default: convergence.png beside the "
                 "plan.")
  args = parser.parse_args(argv[1:])
  folder = os.path.dirname(args.plan)
  args.progress = args.progress or os.path.join(folder, "progress.json")
  args.snapshot_dir = args.snapshot_dir or os.path.join(folder, "snapshots")
  return args


def _add_run_flags(p):
  p.add_argument("--data_dir", default=os.path.join("..", "shared", "data"),
                 help="The folder the plan's training globs and validation "
                 "folder are relative to.")
  p.add_argument("--state_dir", default=DEFAULT_STATE_DIR,
                 help="Checkpoints and the decoded-image cache; keep it "
                 "outside the repository.")


def _context(args, plan, deadline):
  from bls2017.campaign import worker  # pylint: disable=import-outside-toplevel
  return worker.Context(plan, args.data_dir,
                        os.path.expanduser(args.state_dir),
                        args.snapshot_dir, args.progress, deadline,
                        log=functools.partial(print, flush=True))


def train_model(args):
  plan = plan_lib.load(args.plan)
  from bls2017.campaign import worker  # pylint: disable=import-outside-toplevel
  worker.run(plan.model(args.name), _context(args, plan, args.deadline))


def ready_models(plan, content, running):
  """Models not done whose parent is done, in plan order."""
  models = content.get("models", {})
  done = {n for n, e in models.items() if e.get("status") == "done"}
  return [m for m in plan_lib.order(plan)
          if m.name not in done and m.name not in running
          and (m.parent is None or m.parent in done)]


def run(args):
  """Keeps --workers worker processes busy until --hours have passed."""
  plan = plan_lib.load(args.plan)
  deadline = time.time() + args.hours * 3600
  running = {}
  stopping = []

  def stop(*_):
    stopping.append(True)
    for process in running.values():
      process.send_signal(signal.SIGTERM)
  signal.signal(signal.SIGTERM, stop)
  signal.signal(signal.SIGINT, stop)
  bar = _ProgressBar(plan, args.progress)
  while True:
    for name, process in list(running.items()):
      if process.poll() is not None:
        del running[name]
        if process.returncode:
          print(f"{name}: worker exited with status {process.returncode}",
                file=sys.stderr)
          stop()
    content = progress.read(args.progress)
    ready = ready_models(plan, content, running)
    # Leave ten minutes' margin: starting a worker costs a minute or two.
    if not stopping and time.time() < deadline - 600:
      for model in ready[:max(0, args.workers - len(running))]:
        threads = max(1, (os.cpu_count() or 1) // max(
            1, min(args.workers, len(running) + len(ready))))
        running[model.name] = _start_worker(args, model.name, deadline,
                                            threads)
    bar.update(content)
    if not running:
      break
    time.sleep(10)
  bar.close(progress.read(args.progress))


def _start_worker(args, name, deadline, threads):
  env = dict(os.environ, TF_NUM_INTRAOP_THREADS=str(threads),
             TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
  log = open(os.path.join(_state_dir(args), f"{name}.log"), "a")
  return subprocess.Popen(
      [sys.executable, "-m", "bls2017.campaign", "--plan", args.plan,
       "--progress", args.progress, "--snapshot_dir", args.snapshot_dir,
       "train_model", name, "--deadline", str(deadline),
       "--data_dir", args.data_dir, "--state_dir", args.state_dir],
      env=env, stdout=log, stderr=subprocess.STDOUT)


def _state_dir(args):
  path = os.path.expanduser(args.state_dir)
  os.makedirs(path, exist_ok=True)
  return path


class _ProgressBar:
  """One bar over the whole plan's steps, with the ETA at measured speeds
  (the models that can run at once counted as parallel)."""

  def __init__(self, plan, path):
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    self.plan = plan
    self.total = sum(m.steps for m in plan.models)
    self.bar = tqdm(total=self.total, unit="step", desc="campaign",
                    bar_format="{desc} {percentage:3.1f}% {n_fmt}/"
                    "{total_fmt} steps [{elapsed}] {postfix}")
    self.update(progress.read(path))

  def update(self, content):
    done = sum(e.get("steps", 0) for e in content.get("models", {}).values())
    self.bar.n = done
    self.bar.set_postfix_str(eta_text(self.plan, content))

  def close(self, content):
    self.update(content)
    self.bar.close()


def eta_text(plan, content, workers=2):
  if not progress.remaining_seconds(plan, content):
    return "plan done"
  seconds = progress.eta_seconds(plan, plan_lib.order(plan), content, workers)
  if seconds is None:
    return "ETA: after the first speeds are measured"
  return f"ETA {seconds / 3600:.1f} h of training"


def status(args):
  plan = plan_lib.load(args.plan)
  content = progress.read(args.progress)
  models = content.get("models", {})
  print(f"{'model':<12}{'lambda':>8}{'filters':>8}{'steps':>16}{'hours':>7}"
        f"{'status':>10}{'validated':>10}{'bpp':>7}{'PSNR':>7}"
        f"{'MS-SSIM':>9}")
  for model in plan.models:
    entry = models.get(model.name, progress.empty_entry())
    print(f"{model.name:<12}{model.lmbda:>8g}{model.filters:>8}"
          f"{entry['steps']:>8}/{model.steps:<7}{entry['hours']:>7.2f}"
          f"{entry['status']:>10}" + _last_validation(entry))
  print(eta_text(plan, content))
  added = history_megabytes(os.path.dirname(os.path.abspath(args.plan)),
                            content)
  if added is not None:
    print(f"Added to the repository's history: {added:.1f} MB of the "
          f"{HISTORY_BUDGET_MB} MB the campaign may add (every committed "
          "version under campaign/, and the zoo files it promoted)")


def _last_validation(entry):
  """The columns of a model's latest validation: step, bpp, PSNR, MS-SSIM
  ("—" before its first)."""
  if not entry["validation"]:
    return f"{'—':>10}"
  last = entry["validation"][-1]
  return (f"{last['step']:>10}{last['bpp']:>7.3f}{last['psnr']:>7.2f}"
          f"{last['ms_ssim']:>9.4f}")


# What the campaign may add to the repository's history, in all.
HISTORY_BUDGET_MB = 200


def history_megabytes(campaign_dir, content):
  """MB the campaign has added to the git history: every version of the
  files under `campaign_dir` (snapshots above all) and the zoo files of
  its promoted models (each written once, when promoted). None outside a
  git checkout."""
  from bls2017 import zoo  # pylint: disable=import-outside-toplevel
  try:
    objects = subprocess.run(
        ["git", "rev-list", "--objects", "--all", "--", "."],
        cwd=campaign_dir, capture_output=True, text=True, check=True).stdout
    sizes = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objecttype) %(objectsize)"],
        cwd=campaign_dir, input="".join(
            line.split()[0] + "\n" for line in objects.splitlines()),
        capture_output=True, text=True, check=True).stdout
  except (OSError, subprocess.CalledProcessError):
    return None
  total = sum(int(size) for kind, size in (
      line.split() for line in sizes.splitlines()) if kind == "blob")
  for entry in content.get("models", {}).values():
    if entry.get("promoted") in zoo.catalog():
      total += os.path.getsize(zoo.CATALOG.path(entry["promoted"]))
  return total / 1e6


def plot(args):
  from bls2017.campaign import figures  # pylint: disable=import-outside-toplevel
  plan = plan_lib.load(args.plan)
  output = args.output or os.path.join(os.path.dirname(args.plan),
                                       "convergence.png")
  figures.convergence(plan, progress.read(args.progress), output)
  print(f"Wrote {output}")


def compare(args):
  """Writes `evaluation.ablation_figures` of the models with the machine."""
  # pylint: disable=import-outside-toplevel
  from bls2017.core import codec as codec_lib
  from bls2017.core import evaluation, timing
  paths = evaluation.image_paths(args.images)
  rows, described = {}, {}
  for path in args.models:
    codec = codec_lib.load(path)
    name = os.path.basename(path)
    rows[name] = [
        {"bpp": r["bpp"], "psnr": r["psnr"], "ms_ssim": r["ms_ssim"],
         "loss": r["bpp"] + codec.model.lmbda * 255 ** 2 / 10 ** (
             r["psnr"] / 10)}
        for r in evaluation.evaluate_codec(codec, paths, label=name)]
    metadata = codec.loaded.metadata
    described[name] = {
        "gdn": codec.model.gdn, "lambda": codec.model.lmbda,
        "filters": codec.model.num_filters,
        "steps": metadata.get("total_steps", metadata.get("steps")),
        "seconds": metadata.get("seconds_this_run"),
        "command": metadata.get("command")}
  evaluation.write_json(args.output, {
      "images": [os.path.basename(p) for p in paths],
      "machine": timing.machine(),
      "models": evaluation.ablation_figures(rows, described)})
  print(f"Wrote {args.output}")


def store_again(args):
  from bls2017.campaign import worker  # pylint: disable=import-outside-toplevel
  plan = plan_lib.load(args.plan)
  context = _context(args, plan, deadline=float("inf"))
  for name in args.names:
    worker.store_again(plan.model(name), context)


def promote(args):
  from bls2017.campaign import promote as promote_lib  # pylint: disable=import-outside-toplevel
  plan = plan_lib.load(args.plan)
  shipped = promote_lib.promote(
      plan, progress.read(args.progress), args.snapshot_dir,
      os.path.join(args.data_dir, plan.data.valid), args.dry_run)
  for name in shipped:
    with progress.entry(args.progress, name) as entry:
      entry["promoted"] = plan.model(name).zoo
  if shipped:  # A new shipped model gets its conformance file.
    from bls2017 import conformance  # pylint: disable=import-outside-toplevel
    conformance.write()


COMMANDS = {"run": run, "train_model": train_model, "status": status,
            "plot": plot, "compare": compare, "promote": promote,
            "store_again": store_again}


def main(args):
  try:
    COMMANDS[args.command_name](args)
  except (plan_lib.PlanError, OSError, ValueError) as e:
    user_errors.exit_with(f"campaign {args.command_name}", e)


if __name__ == "__main__":
  commands.run_command(main, parse_args)
