#!/usr/bin/env bash
# Create (or reuse) the Python venv that holds one real AgentSight SDK release and what its
# compatibility suite needs:
#
#   VENV=$(scripts/setup-sdk-venv.sh)          # 0.0.44 (tests/sdk): agentsight, pytest, requests
#   VENV=$(scripts/setup-sdk-venv.sh 0.1.4)    # 0.1.4 (tests/sdk01): the same plus openai and the
#                                              # OpenTelemetry OTLP/HTTP exporter (test_otlp.py)
#                                              # and the OpenAI instrumentation
#                                              # (test_otlp_instrumentation.py)
#   "$VENV/bin/python" -m pytest tests/sdk -q  # prints the venv path as its last line
#
# Each version has its own venv (both are `agentsight`, and 0.0.44 raises at import without a
# key): ~/.cache/agentsight/venv-sdk00 and venv-sdk01, or $AGENTSIGHT_VENV_DIR.
# Idempotent: when the venv already has the pinned packages, nothing is installed. Packages
# are fetched by name with pip's configured index.
set -euo pipefail

SDK_VERSION="${1:-0.0.44}"
case "$SDK_VERSION" in
    0.0.44) DEFAULT_VENV="$HOME/.cache/agentsight/venv-sdk00"; EXTRA=() ;;
    0.1.4)  DEFAULT_VENV="$HOME/.cache/agentsight/venv-sdk01"; EXTRA=("openai==3.57.0" "opentelemetry-exporter-otlp-proto-http==1.45.2"
            # test_otlp_instrumentation.py: the OpenAI instrumentation (it imports httpx; 2.4b0
            # breaks with util-genai 1.2b0 and later, which renamed a module it imports)
            "opentelemetry-instrumentation-openai-v2==2.4b0" "opentelemetry-util-genai==1.1b0" "httpx==0.29.0") ;;
    *) echo "setup-sdk-venv: unknown SDK version $SDK_VERSION (use 0.0.44 or 0.1.4)" >&2; exit 2 ;;
esac
VENV="${AGENTSIGHT_VENV_DIR:-$DEFAULT_VENV}"
PYTHON="${PYTHON:-python3}"

venv_ready() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$SDK_VERSION" "${EXTRA[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib import metadata
want = sys.argv[1]
try:
    ok = metadata.version("agentsight") == want
    metadata.version("pytest")
    metadata.version("requests")
    for pin in sys.argv[2:]:
        name, _, version = pin.partition("==")
        ok = ok and metadata.version(name) == version
except metadata.PackageNotFoundError:
    sys.exit(1)
sys.exit(0 if ok else 1)
PY
}

if venv_ready; then
    echo "setup-sdk-venv: agentsight==$SDK_VERSION already installed in $VENV" >&2
    echo "$VENV"
    exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    echo "setup-sdk-venv: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi

echo "setup-sdk-venv: installing agentsight==$SDK_VERSION pytest requests ${EXTRA[*]}" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "agentsight==$SDK_VERSION" pytest requests "${EXTRA[@]}" >&2

if ! venv_ready; then
    echo "setup-sdk-venv: install finished but agentsight==$SDK_VERSION is not importable in $VENV" >&2
    exit 1
fi
echo "$VENV"
