#!/bin/sh
# The built-in demo, on the built-in model (pseudo-random weights: it shows every step running
# and how fast, not what a trained HSNet segments) and a synthetic satellite-like target domain:
#   1. write the target set and check it,
#   2. fine-tune a fresh APM-M + ACPA masker on one labelled target picture,
#   3. evaluate 1-shot episodes with that masker (report and pictures), then with domain
#      adaptation on three held-out pictures,
#   4. measure the channel correlation of the layer-4 features without and with that masker,
#   5. time an episode, the maskers and one fine-tuning step.
set -eu
cdfss="$1"
out="$2"
model=builtin:deterministic
target="$out/target"
# Only what an earlier demo wrote here is replaced.
rm -rf "$target" "$out/episodes" "$out/correlation"
mkdir -p "$out"

"$cdfss" synth --out "$target" --style satellite --classes 3 --images-per-class 6 --size 400 --seed 0
"$cdfss" datasets check --benchmark folder --datapath "$target"

"$cdfss" finetune --checkpoint "$model" \
    --adapt-image "$target/class-1/images/001.png" --adapt-mask "$target/class-1/masks/001.png" \
    --steps 20 --lr 1e-3 --output "$out/adapted.safetensors"
"$cdfss" masker show "$out/adapted.safetensors" --png "$out/adapted.png"

"$cdfss" test --checkpoint "$model" --benchmark folder --datapath "$target" --shots 1 --episodes 12 \
    --masker "$out/adapted.safetensors" --report "$out/report.json" --vis-dir "$out/episodes" --vis-count 4
"$cdfss" test --checkpoint "$model" --benchmark folder --datapath "$target" --shots 1 --episodes 12 \
    --adapt domain --adapt-count 3 --steps 10 --report "$out/report-domain.json"
"$cdfss" report show "$out/report.json"

"$cdfss" analyze correlation --checkpoint "$model" --masker "$out/adapted.safetensors" \
    --benchmark folder --datapath "$target" --count 6 --out "$out/correlation"

"$cdfss" bench --runs 10 --episode-runs 3 --finetune-runs 5
echo "demo outputs in $out: target/, adapted.safetensors, adapted.png, report.json, report-domain.json, episodes/, correlation/"
