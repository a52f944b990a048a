#!/usr/bin/env bash
# Create (or reuse) the Python venv that holds the real AgentSight SDK 0.0.44,
# pytest and requests, for the SDK compatibility suite in tests/sdk/.
#
#   VENV=$(scripts/setup-sdk-venv.sh)     # prints the venv path as its last line
#   "$VENV/bin/python" -m pytest tests/sdk -q
#
# Idempotent: when the venv already has agentsight==0.0.44, pytest and requests,
# nothing is installed. Packages are fetched by name with pip's configured index.
set -euo pipefail

SDK_VERSION="0.0.44"
VENV="${AGENTSIGHT_VENV_DIR:-$HOME/.cache/agentsight/venv-sdk00}"
PYTHON="${PYTHON:-python3}"

venv_ready() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$SDK_VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib import metadata
want = sys.argv[1]
try:
    ok = metadata.version("agentsight") == want
    metadata.version("pytest")
    metadata.version("requests")
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

echo "setup-sdk-venv: installing agentsight==$SDK_VERSION pytest requests" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "agentsight==$SDK_VERSION" pytest requests >&2

if ! venv_ready; then
    echo "setup-sdk-venv: install finished but agentsight==$SDK_VERSION is not importable in $VENV" >&2
    exit 1
fi
echo "$VENV"
