#!/usr/bin/env bash
# Kill-at-any-moment check of fine-tuning's saves and --resume, on the built-in model and a
# small synthetic target set:
#   1. an uninterrupted run: `finetune --save-every 1`, the reference;
#   2. the same run killed with SIGKILL at random moments (while starting, training, writing
#      the snapshot or the masker file), continued after each kill with --resume (or started
#      again when no snapshot exists yet), then run to the end;
#   3. the two masker files and snapshots must be equal byte for byte, and no temporary or
#      other stray file may remain.
# Usage: scripts/kill-resume-check.sh CDFSS [WORKDIR] [KILLS] [SEED]
# Each kill lands at a moment drawn uniformly from the start-up and the first five steps of the
# attempt, so that kills hit every phase (loading, training, saving) and the run still has
# steps left for the next one. Prints one line per kill and a summary; exits non-zero on any
# difference.
set -euo pipefail
cdfss="$1"
work="${2:-.kill-resume}"
kills="${3:-40}"
RANDOM="${4:-1}"
steps="${STEPS:-150}"
size=96

rm -rf "$work"
mkdir -p "$work"
"$cdfss" synth --out "$work/target" --style satellite --classes 1 --images-per-class 2 --size "$size" --seed 3 >/dev/null
images=(--adapt-image "$work/target/class-1/images/001.png" --adapt-mask "$work/target/class-1/masks/001.png"
        --adapt-image "$work/target/class-1/images/002.png" --adapt-mask "$work/target/class-1/masks/002.png")
run=(finetune --checkpoint builtin:deterministic "${images[@]}" --image-size "$size" --steps "$steps" --lr 0.01
     --save-every 1)

milliseconds() { echo $(( $(date +%s%N) / 1000000 )); }
started=$(milliseconds)
"$cdfss" "${run[@]}" --output "$work/whole.safetensors" >/dev/null 2>&1
whole_ms=$(( $(milliseconds) - started ))
# Start-up alone: the finished run resumed, with nothing left to do.
started=$(milliseconds)
"$cdfss" "${run[@]}" --output "$work/whole.safetensors" --resume >/dev/null 2>&1
startup_ms=$(( $(milliseconds) - started ))
step_ms=$(( (whole_ms - startup_ms) / steps + 1 ))
window_ms=$(( startup_ms + 5 * step_ms ))
echo "uninterrupted: $steps steps in ${whole_ms} ms (start-up ${startup_ms} ms, about ${step_ms} ms a step with its save); kills within ${window_ms} ms of each start"

# The step a file records (0 when absent): the masker file's training.steps, the snapshot's
# masker.training.steps, read from the safetensors JSON header.
steps_in() {
    [ -e "$1" ] || { echo 0; return; }
    head -c 65536 "$1" | grep -ao "\"$2\":\"[0-9]*\"" | grep -o '[0-9]*' || echo "?"
}

killed="$work/killed.safetensors"
snapshot="$work/killed.resume.safetensors"
landed=0 attempts=0 fresh=0 resumed=0 finished_early=0 temporaries_seen=0 masker_behind=0 at_snapshot=0
# Until enough kills landed, or the run got to its end between them (then fewer are reported).
while [ "$landed" -lt "$kills" ] && [ "$attempts" -lt $((3 * kills)) ] && [ "$at_snapshot" != "$steps" ]; do
    attempts=$((attempts + 1))
    resume=()
    if [ -e "$snapshot" ]; then resume=(--resume); resumed=$((resumed + 1)); else fresh=$((fresh + 1)); fi
    "$cdfss" "${run[@]}" --output "$killed" "${resume[@]}" >/dev/null 2>"$work/stderr" &
    pid=$!
    delay=$(( (RANDOM * 32768 + RANDOM) % (window_ms + 1) ))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    status=0
    { wait "$pid"; } 2>/dev/null || status=$?
    [ "$status" -eq 137 ] && landed=$((landed + 1))
    if [ "$status" -ne 0 ] && [ "$status" -ne 137 ]; then
        echo "kill $k: the run failed by itself (exit $status):" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    [ "$status" -eq 0 ] && finished_early=$((finished_early + 1))
    temporaries=$(find "$work" -maxdepth 1 -name '.*.partial' | wc -l)
    temporaries_seen=$((temporaries_seen + temporaries))
    at_masker=$(steps_in "$killed" training.steps)
    at_snapshot=$(steps_in "$snapshot" masker.training.steps)
    [ "$at_masker" != "$at_snapshot" ] && masker_behind=$((masker_behind + 1))
    echo "attempt $attempts, kill after ${delay} ms: exit $status, snapshot at step $at_snapshot, masker file at $at_masker, $temporaries temporaries left"
done

# The end: continue once more without a kill.
resume=()
[ -e "$snapshot" ] && resume=(--resume)
"$cdfss" "${run[@]}" --output "$killed" "${resume[@]}" >/dev/null 2>"$work/stderr" || { cat "$work/stderr" >&2; exit 1; }

failed=0
cmp "$work/whole.safetensors" "$killed" || failed=1
cmp "$work/whole.resume.safetensors" "$snapshot" || failed=1
stray=$(cd "$work" && ls -A | grep -v -x -e target -e stderr -e whole.safetensors -e whole.resume.safetensors \
        -e killed.safetensors -e killed.resume.safetensors || true)
if [ -n "$stray" ]; then
    echo "stray files: $stray" >&2
    failed=1
fi
echo "kills: $landed landed in $attempts attempts ($finished_early runs finished first); starts: $fresh fresh, $resumed with --resume"
echo "after the kills: $temporaries_seen temporaries seen (all swept by the next run); $masker_behind kills left the masker file a save behind the snapshot (resumed all the same)"
if [ "$landed" -lt "$kills" ]; then
    echo "only $landed of $kills kills landed before the run ended (steps were faster than measured); STEPS=$((2 * steps)) gives more room"
fi
if [ "$failed" -eq 0 ]; then
    echo "masker file and snapshot equal the uninterrupted run's byte for byte; no stray files"
else
    echo "FAILED" >&2
    exit 1
fi
