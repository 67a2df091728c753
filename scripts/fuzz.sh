#!/usr/bin/env bash
# Fuzzes every file parser with libFuzzer for FUZZ_SECONDS each (default 600) and prints
# executions and crashes per target.
#
#   scripts/fuzz.sh [TARGET...]        targets: checkpoint safetensors numpy png jpeg tiff report
#
# The libraries are built once more in their own folder (.build-fuzz), instrumented for
# libFuzzer and AddressSanitizer, so that `make test` and `make demo` never see these flags;
# each target (Fuzz/<Name>Fuzz.swift) is then linked against their object files. The seed
# corpus is Fuzz/seeds/<target>; what libFuzzer adds is kept in .build-fuzz/corpus/<target>,
# crashes are written to .build-fuzz/findings/<target>/ (keep each as a regression test). A
# target stops at its first crash; the summary counts the crashes of this run.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
SWIFTC=${SWIFTC:-swiftc}
FUZZ_SECONDS=${FUZZ_SECONDS:-600}
# Hangs and memory blow-ups are findings too: an input may take at most this long, and the
# process at most this much memory (the parsers' own limits keep well under both).
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-20}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-6144}
SCRATCH=.build-fuzz
SANITIZE=fuzzer,address

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint safetensors numpy png jpeg tiff report)

# Target name -> harness file and the library modules it links.
harness() {
    case "$1" in
        checkpoint) echo "CheckpointFuzz" ;;
        safetensors) echo "SafetensorsFuzz" ;;
        numpy) echo "NumPyFuzz" ;;
        png) echo "PNGFuzz" ;;
        jpeg) echo "JPEGFuzz" ;;
        tiff) echo "TIFFFuzz" ;;
        report) echo "ReportFuzz" ;;
        *) echo "unknown fuzz target '$1' (checkpoint safetensors numpy png jpeg tiff report)" >&2; exit 2 ;;
    esac
}
modules() {
    case "$1" in
        checkpoint|safetensors|numpy) echo "TensorCore" ;;
        png|jpeg|tiff) echo "Imaging TensorCore" ;;
        report) echo "Evaluation Datasets HSNetCore FreqMask Imaging TensorCore" ;;
    esac
}

for target in "${targets[@]}"; do harness "$target" >/dev/null; done

echo "== building the libraries with -sanitize=$SANITIZE in $SCRATCH"
# Only the library targets are built (no executable, no tests): nothing here is linked by
# SwiftPM, so libFuzzer's own main never meets the command line's.
$SWIFT build -c release --scratch-path "$SCRATCH" --target Evaluation \
    -Xswiftc -sanitize=$SANITIZE
bin="$SCRATCH/release"
libraries=$(pkg-config --libs fftw3f openblas libpng libtiff-4 libjpeg zlib)

mkdir -p "$SCRATCH/fuzzers" "$SCRATCH/logs"
for target in "${targets[@]}"; do
    name=$(harness "$target")
    objects=()
    for module in $(modules "$target"); do
        objects+=("$bin/$module.build"/*.o)
    done
    echo "== linking $target"
    $SWIFTC -O -parse-as-library -sanitize=$SANITIZE -module-name "${name}" \
        -I "$bin/Modules" -I "$bin" \
        -Xcc -fmodule-map-file=Sources/CPNG/module.modulemap -Xcc -fmodule-map-file=Sources/CTIFF/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CJPEG/module.modulemap -Xcc -fmodule-map-file=Sources/CFFTW/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CBLAS/module.modulemap \
        -Xcc -fmodule-map-file=Sources/CZlib/module.modulemap \
        "Fuzz/$name.swift" "${objects[@]}" $libraries \
        -o "$SCRATCH/fuzzers/$target" >"$SCRATCH/logs/link-$target.log" 2>&1 \
        || { cat "$SCRATCH/logs/link-$target.log"; exit 1; }
done

summary=()
for target in "${targets[@]}"; do
    corpus="$SCRATCH/corpus/$target"
    findings="$SCRATCH/findings/$target"
    mkdir -p "$corpus" "$findings"
    log="$SCRATCH/logs/$target.log"
    # Crashes of this run are the findings written after this stamp (earlier ones stay).
    stamp="$SCRATCH/logs/$target.start"
    touch "$stamp"
    echo "== fuzzing $target for ${FUZZ_SECONDS}s (log: $log)"
    # -fork is not used: one process keeps the count of executions in one line.
    set +e
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
        "$SCRATCH/fuzzers/$target" "$corpus" "Fuzz/seeds/$target" \
        -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb="$FUZZ_RSS_MB" \
        -malloc_limit_mb="$FUZZ_RSS_MB" -max_len=65536 -print_final_stats=1 \
        -artifact_prefix="$findings/" >"$log" 2>&1
    status=$?
    set -e
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    crashes=$(find "$findings" -type f -newer "$stamp" | wc -l)
    note=""
    [ "$status" -eq 0 ] || note="   (stopped with status $status: see $log)"
    summary+=("$(printf '%-12s executions %10s   crashes %s%s' "$target" "${runs:-?}" "$crashes" "$note")")
done

echo
echo "== fuzzing summary (${FUZZ_SECONDS}s per target)"
printf '%s\n' "${summary[@]}"
