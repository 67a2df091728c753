#!/bin/sh
# The built-in demo: a fresh APM-M + ACPA masker for HSNet's layer-4 features (2048 x 13 x 13
# at a 400 x 400 input), described and drawn; then a 1-shot HSNet episode with those maskers
# and the maskers' forward and backward, timed.
set -eu
cdfss="$1"
out="$2"
mkdir -p "$out"
"$cdfss" masker init --apm m --acpa --channels 2048 --height 13 --width 13 --seed 0 --output "$out/masker.safetensors"
"$cdfss" masker show "$out/masker.safetensors" --png "$out/masker.png"
"$cdfss" bench --runs 10 --episode-runs 3
