#!/usr/bin/env bash
# The content-weighted ablations: the commands that train their five models
# and measure them; a re-run resumes them.
#
#   results/related/train_cw_ablations.sh TRAIN_DIR VALID_DIR OUT_DIR
#
# TRAIN_DIR: the training photographs (PNG, searched recursively);
# VALID_DIR: the images the ablations are measured on;
# OUT_DIR: model files, checkpoints and logs (outside the checkout).
# Writes results/related/content_weighted_{ablation,mechanisms_ablation,
# map_ablation}.json of the checkout it is in.
#
# Every model: 2,000 steps of batch 8 on 128x128 patches, Adam 5e-4, seed
# 0, lambda 0.01, one thread (so that a re-run repeats it exactly), one
# after another; each differs from the first in one flag:
#
#   cw-l0.01          the defaults (importance map, GDN transforms, band
#                     mask gradient, map under factorized tables)
#   cw-nomap-l0.01    --noimportance_map
#   cw-relaxed-l0.01  --relaxed_fraction=0.5 (two-stage mask)
#   cw-dense-l0.01    --transform=dense
#   cw-ctxmap-l0.01   --map_model=context
#
# A finished model (its .npz exists) is skipped; an unfinished one resumes
# from its last checkpoint (every 500 steps).
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '5,10p' "$0" | cut -c3- >&2
  exit 1
fi
results=$(cd "$(dirname "$0")" && pwd)
train_dir=$(cd "$1" && pwd)
valid_dir=$(cd "$2" && pwd)
mkdir -p "$3"
cd "$3"
export TF_CPP_MIN_LOG_LEVEL=2 TF_NUM_INTEROP_THREADS=1 TF_NUM_INTRAOP_THREADS=1
common=(--train_glob="$train_dir/**/*.png" --lambda=0.01 --epochs=20
        --steps_per_epoch=100 --learning_rate=5e-4 --seed=0 --verbose=2
        --checkpoint_every=500)

# train NAME FLAGS...: NAME.npz, its log in NAME.log.
train() {
  local name=$1
  shift
  [ -f "$name.npz" ] && return 0
  echo "$(date -u +%FT%TZ) content_weighted train $* -> $name.npz" >&2
  python -m content_weighted train "${common[@]}" "$@" \
    --model_path="$name.npz" >> "$name.log" 2>&1
}

train cw-l0.01
train cw-nomap-l0.01 --noimportance_map
train cw-relaxed-l0.01 --relaxed_fraction=0.5
train cw-dense-l0.01 --transform=dense
train cw-ctxmap-l0.01 --map_model=context

ablation() {
  local output=$1
  shift
  python -m content_weighted ablation "$valid_dir" "${@/#/--model=}" \
    --output="$results/$output"
}
ablation content_weighted_ablation.json cw-l0.01.npz cw-nomap-l0.01.npz
ablation content_weighted_mechanisms_ablation.json cw-l0.01.npz \
  cw-relaxed-l0.01.npz cw-dense-l0.01.npz
ablation content_weighted_map_ablation.json cw-l0.01.npz cw-ctxmap-l0.01.npz
