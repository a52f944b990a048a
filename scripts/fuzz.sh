#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted bytes (fuzz/, cargo-fuzz and libFuzzer;
# docs/fuzzing.md): builds the targets, replays each target's seeds and regression inputs (any
# failure fails the script), then fuzzes each target for N seconds, one after the other.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--build-only] [TARGET…]
#
#   --seconds N    fuzz each target for N seconds (default 10; 0: replay only)
#   --jobs J       libFuzzer processes per target (default 1)
#   --build-only   build the targets and stop
#   TARGET…        the targets to run (default: all of them; `cargo fuzz list` in fuzz/)
#
# Needs a nightly toolchain and cargo-fuzz; both are installed here when missing (rustup
# toolchain by name, cargo-fuzz from the crate registry). Builds go to
# ${CARGO_TARGET_DIR:-~/.cache/agentsight/target}-nightly. The corpus grows in
# <that dir>/corpus/<target> (not committed); a crash, timeout or out-of-memory input is written
# to fuzz/artifacts/<target>/ and the script fails: turn it into a regression input
# (fuzz/regressions/<target>/) and a unit test as docs/fuzzing.md says.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
jobs=1
build_only=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --jobs) jobs="$2"; shift 2 ;;
        --build-only) build_only=1; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/agentsight/target}-nightly"
triple="$(rustup run nightly rustc -vV | sed -n 's/^host: //p')"
bin_dir="$target_dir/$triple/release"
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi

# Release with debug assertions (integer overflow is a finding), no sanitizer: the code under
# test is safe Rust, so AddressSanitizer would only slow it down.
build=(cargo +nightly fuzz build -O -a --sanitizer none --target-dir "$target_dir")
(cd fuzz && "${build[@]}")
for t in "${targets[@]}"; do
    [ -x "$bin_dir/$t" ] || { echo "fuzz target $t did not build ($bin_dir/$t)" >&2; exit 1; }
done
[ "$build_only" = 1 ] && exit 0

# libFuzzer: a slow input (10 s) or one using over 1 GiB is a finding like a crash is.
limits=(-timeout=10 -rss_limit_mb=1024)
for t in "${targets[@]}"; do
    replay=()
    for d in "fuzz/seeds/$t" "fuzz/regressions/$t"; do
        [ -d "$d" ] && replay+=("$d")
    done
    if [ ${#replay[@]} -gt 0 ]; then
        files=()
        mapfile -d '' -t files < <(find "${replay[@]}" -type f ! -name '*.py' ! -name '*.md' -print0 | sort -z)
        echo "== $t: replaying ${#files[@]} seeds and regression inputs"
        # Files, not directories: libFuzzer runs each once, without fuzzing.
        if ! out="$("$bin_dir/$t" "${limits[@]}" "${files[@]}" 2>&1)"; then
            printf '%s\n' "$out" | grep -E -B 2 -A 30 'panicked at|==[0-9]+== ERROR|^Running' | tail -n 60 >&2
            echo "$t fails on a seed or regression input (the last 'Running:' line names it)" >&2
            exit 1
        fi
    fi
    if [ "$seconds" -gt 0 ]; then
        corpus="$target_dir/corpus/$t"
        artifacts="fuzz/artifacts/$t"
        mkdir -p "$corpus" "$artifacts"
        echo "== $t: fuzzing for ${seconds}s ($jobs job(s)), corpus $corpus"
        log="$(mktemp)"
        set +e
        # Span batches are reached whole only with room for several blocks and spans.
        max_len=()
        case "$t" in span_batch|gzip_body) max_len=(-max_len=65536) ;; esac
        # The names and values the parsers look for (fuzz/seeds/make-seeds.py writes them).
        dict=()
        dict_file="fuzz/dicts/${t/gzip_body/span_batch}.dict"
        [ -f "$dict_file" ] && dict=(-dict="$dict_file")
        parallel=()
        [ "$jobs" -gt 1 ] && parallel=(-jobs="$jobs" -workers="$jobs")
        "$bin_dir/$t" "${limits[@]}" -max_total_time="$seconds" "${max_len[@]}" "${dict[@]}" "${parallel[@]}" \
            -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "${replay[@]}" >"$log" 2>&1
        status=$?
        set -e
        # With -jobs the output is in fuzz-N.log files of the current directory.
        [ "$jobs" -gt 1 ] && cat fuzz-*.log >>"$log" 2>/dev/null && rm -f fuzz-*.log
        grep -E '^#[0-9]+\s+(DONE|INITED)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
        if [ "$status" -ne 0 ] || grep -qE '^==[0-9]+== ERROR|^SUMMARY: libFuzzer|panicked at' "$log"; then
            grep -E -A 30 'panicked at|==[0-9]+== ERROR|SUMMARY' "$log" | head -n 60 >&2
            echo "$t: a finding (exit status $status), its input is in $artifacts/ (docs/fuzzing.md says what to do with it)" >&2
            rm -f "$log"
            exit 1
        fi
        rm -f "$log"
    fi
done
