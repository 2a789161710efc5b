#!/usr/bin/env bash
# The 20,000-step comparison of the three systems on equal terms: the
# commands that train its models, and that re-run resume them.
#
#   results/related/train_comparison.sh TRAIN_DIR OUT_DIR [JOBS [SYSTEMS]]
#
# TRAIN_DIR: the training photographs (PNG, searched recursively);
# OUT_DIR: model files, checkpoints and logs (outside the checkout);
# JOBS: trainings run side by side (default 2);
# SYSTEMS: which chains to run, of "bls cae cw" (default all three).
# TF_NUM_INTRAOP_THREADS, if set, gives each training that many threads
# (default 1): they change its speed and the rounding of its float sums,
# not its recipe.
#
# Every model: batch 8 of 128x128 patches, flips, Adam with cosine decay
# from 5e-4, seed 0, 64 filters. Each system has one parent at a middle
# rate, 20,000 steps from random weights, and children that start from a
# trained neighbour (--warm_start) and train 4,000 steps more:
#
#   bls2017 lambda    0.003 (parent) -> 0.001, 0.01 -> 0.03
#   CAE-ADMM keep     0.1   (parent) -> 0.05,  0.2  -> 0.35
#   content-weighted  0.003 (parent) -> 0.001, 0.01, 0.03
#
# (content-weighted's children all start from its parent, so that all
# three train side by side: its steps cost the most), so every model has
# 20,000 to 28,000 steps behind it; each model file
# records its own steps, its source's and the total. A finished model
# (its .npz exists) is skipped; an unfinished one resumes from its last
# checkpoint (every 500 steps). Then, on the validation images:
#
#   bls2017 evaluate VALID_DIR --model OUT_DIR/bls-l0.001.npz --model ...
#     --codecs jpeg --anchor bls2017 --output_dir results/related/20k
#
# (the content-weighted models were evaluated on their own, with
# --codecs '' --output_dir results/related/20k/content_weighted, and their
# curve merged with the others' by `bls2017 plot ... --anchor bls2017
# --output_dir results/related/20k`).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '5,13p' "$0" | cut -c3- >&2
  exit 1
fi
train_dir=$(cd "$1" && pwd)
mkdir -p "$2"
cd "$2"
jobs=${3:-2}
systems=" ${4:-bls cae cw} "
export TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTEROP_THREADS=1
export TF_NUM_INTRAOP_THREADS=${TF_NUM_INTRAOP_THREADS:-1}
common=(--train_glob="$train_dir/**/*.png" --patchsize=128 --batchsize=8
        --steps_per_epoch=1000 --learning_rate=5e-4 --lr_schedule=cosine
        --flips --seed=0 --verbose=2 --checkpoint_every=500)

# train NAME SOURCE SYSTEM FLAGS...: NAME.npz from SOURCE.npz ("-": random
# weights, 20 epochs; else 4 epochs from it), its log in NAME.log.
train() {
  local name=$1 source=$2 system=$3
  shift 3
  [ -f "$name.npz" ] && return 0
  local start=(--epochs=20)
  if [ "$source" != - ]; then
    start=(--epochs=4 --warm_start="$source.npz")
  fi
  echo "$(date -u +%FT%TZ) $system train $* ${start[*]} -> $name.npz" >&2
  # The lock keeps a second run of this script off a training under way.
  flock -n "$name.lock" /usr/bin/time -v python -m "$system" train "$@" \
    "${common[@]}" "${start[@]}" --model_path="$name.npz" >> "$name.log" 2>&1
}

# Each chain in order; the chains side by side, at most $jobs at a time.
bls() { train "bls-l$1" "$2" bls2017 --num_filters=64 --lambda="$1"; }
cae() { train "cae-f$1" "$2" cae_admm --keep_fraction="$1"; }
cw() {
  train "cw-l$1" "$2" content_weighted --lambda="$1" --map_model=context
}
# The systems' chains in order of their cost per step (content-weighted's
# is the highest), so that the cheaper curves are complete first.
chains=(
  "bls 0.003 -"
  "cae 0.1 -"
  "bls 0.001 bls-l0.003"
  "bls 0.01 bls-l0.003; bls 0.03 bls-l0.01"
  "cae 0.05 cae-f0.1"
  "cae 0.2 cae-f0.1; cae 0.35 cae-f0.2"
  "cw 0.003 -"
  "cw 0.001 cw-l0.003"
  "cw 0.01 cw-l0.003"
  "cw 0.03 cw-l0.003"
)
# A chain whose source is not there yet waits for it.
run_chain() {
  local step source
  IFS=';' read -ra steps <<< "$1"
  for step in "${steps[@]}"; do
    read -r _ _ source <<< "$step"
    while [ "$source" != - ] && [ ! -f "$source.npz" ]; do sleep 60; done
    eval "$step"
  done
}
for chain in "${chains[@]}"; do
  [[ "$systems" == *" ${chain%% *} "* ]] || continue
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_chain "$chain" &
done
wait
ls -l ./*.npz
