#!/usr/bin/env bash
# Retrains shipped styles from the photo corpus, reproducibly: same corpus, seed and thread count,
# same file. Trains on the 155 photos not listed in Models/heldout.txt, writes the styles into
# Models/ (replacing them), prints their held-out figures from `tessera eval` and records them in
# the files (`tessera styles` shows them).
#   Models/retrain.sh [CORPUS] [STYLE...]      (default ../shared/data/train-photos, every style below)
# Run from the repository root after `swift build -c release`; 2 threads on an AMD EPYC Zen 5: about
# 45 seconds for edges, 4 minutes for posterize, 100 seconds for colorize (training through tile
# windows; the files came out bit for bit the same as before it).
set -euo pipefail
corpus=${1:-../shared/data/train-photos}; shift || true
styles=${*:-edges posterize colorize}
tessera=.build/release/tessera
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TESSERA_ROOT="$work/var" TESSERA_MODELS="$work/models"
Models/split-photos.sh "$corpus" "$work/photos"
for style in $styles; do
  "$tessera" pairs make --style "$style" --from "$work/photos/train" --out "$work/pairs-$style" --size 512
  # colorize's validation photos pick its checkpoint and chroma gain: a fifth of the pairs, not a tenth.
  split=0.1; [ "$style" = colorize ] && split=0.2
  pairs=(--inputs "$work/pairs-$style/input" --targets "$work/pairs-$style/target" --val-split $split --seed 7 --threads 2)
  case $style in
    edges)
      "$tessera" train edges "${pairs[@]}" --spec Models/specs/edges.json --epochs 20 --steps 1000 --batch 32 --lr 0.003
      ;;
    posterize)
      "$tessera" train posterize "${pairs[@]}" --spec Models/specs/posterize.json --epochs 60 --steps 1000 --batch 32 --lr 0.003
      ;;
    colorize)
      "$tessera" train colorize "${pairs[@]}" --spec Models/specs/colorize.json --working-size 128 --balance baseline \
        --epochs 30 --steps 200 --batch 32 --lr 0.002
      ;;
    *) echo "no recipe for $style" >&2; exit 2 ;;
  esac
  cp "$work/models/$style.safetensors" "Models/$style.safetensors"
  "$tessera" eval "Models/$style.safetensors" --photos "$work/photos/heldout" --threads 2 --record
done
