#!/bin/sh
# The built-in demo: a fresh APM-M + ACPA masker for ResNet-50 layer-4 features (2048 x 13 x 13,
# as at 400 x 400 input), inspected, then timed forward and backward.
set -eu
cdfss="$1"
out="$2"
mkdir -p "$out"
"$cdfss" masker init --apm m --acpa --channels 2048 --height 13 --width 13 --seed 0 --output "$out/masker.safetensors"
"$cdfss" masker show "$out/masker.safetensors"
"$cdfss" bench --runs 10
