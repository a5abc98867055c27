#!/usr/bin/env bash
# Splits the photo corpus into OUT/train and OUT/heldout (symbolic links), by Models/heldout.txt:
# what the shipped styles are trained on and what they are measured on.
#   Models/split-photos.sh ../shared/data/train-photos /tmp/photos
set -euo pipefail
corpus=$(cd "$1" && pwd) out=$2
list="$(dirname "$0")/heldout.txt"
mkdir -p "$out/train" "$out/heldout"
for photo in "$corpus"/*.jpg; do
  name=$(basename "$photo")
  if grep -qx "$name" "$list"; then ln -sf "$photo" "$out/heldout/$name"; else ln -sf "$photo" "$out/train/$name"; fi
done
echo "$(ls "$out/train" | wc -l) training photos, $(ls "$out/heldout" | wc -l) held out"
