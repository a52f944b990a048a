#!/usr/bin/env bash
# The chaos test (tests/sdk01/test_chaos.py, docs/chaos.md) for longer than the suite runs it:
# both real SDKs (0.0.44 and 0.1.4) send through a recording proxy while the release binary is
# SIGKILLed at random points and restarted; afterwards every acknowledged event must be stored,
# and nothing twice. With --disk-full, also the full-disk test (tests/sdk01/test_disk_full.py;
# needs root: it mounts a tmpfs).
#
#   scripts/chaos.sh [--kills N] [--seconds S] [--seed SEED] [--disk-full]
#
#   --kills N      SIGKILLs in the run (default 20, as in the suite)
#   --seconds S    spread them over about S seconds of load (default: 2 s between kills)
#   --seed SEED    replay a run: the seed a run prints (`chaos seed …`); default random
#   --disk-full    run the full-disk test too
#
# Builds the release binary into ${CARGO_TARGET_DIR:-~/.cache/agentsight/target} and the SDK
# venvs (scripts/setup-sdk-venv.sh) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

kills=20
seconds=""
seed=""
tests=(tests/sdk01/test_chaos.py)
while [ $# -gt 0 ]; do
    case "$1" in
        --kills) kills="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --disk-full) tests+=(tests/sdk01/test_disk_full.py); shift ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$kills" in ''|*[!0-9]*|0) echo "--kills needs a positive whole number" >&2; exit 2 ;; esac

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agentsight/target}"
cargo build --release --locked -p agentsight
export AGENTSIGHT_BIN="$CARGO_TARGET_DIR/release/agentsight"
export AGENTSIGHT_GEO_DIR="${AGENTSIGHT_GEO_DIR:-$(realpath -m "${AGENTSIGHT_DATA_DIR:-./data}")/geo}"
scripts/fetch-geo.sh --geo-dir "$AGENTSIGHT_GEO_DIR"
VENV="$(scripts/setup-sdk-venv.sh | tail -n 1)"
VENV01="$(scripts/setup-sdk-venv.sh 0.1.4 | tail -n 1)"

export AGENTSIGHT_CHAOS_KILLS="$kills"
if [ -n "$seconds" ]; then
    AGENTSIGHT_CHAOS_GAP_S="$(python3 -c "import sys; print(max(0.2, float(sys.argv[1]) / int(sys.argv[2])))" "$seconds" "$kills")"
    export AGENTSIGHT_CHAOS_GAP_S
fi
if [ -n "$seed" ]; then
    export AGENTSIGHT_CHAOS_SEED="$seed"
fi
AGENTSIGHT_SDK00_PYTHON="$VENV/bin/python" "$VENV01/bin/python" -m pytest "${tests[@]}" -q -s -p no:cacheprovider
