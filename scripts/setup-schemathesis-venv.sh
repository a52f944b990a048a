#!/usr/bin/env bash
# Create (or reuse) the Python venv that holds Schemathesis, which scripts/schemathesis.sh runs
# against the release binary from its OpenAPI document:
#
#   VENV=$(scripts/setup-schemathesis-venv.sh)   # prints the venv path as its last line
#
# ~/.cache/agentsight/venv-schemathesis, or $AGENTSIGHT_SCHEMATHESIS_VENV. Idempotent: when the
# venv already has the pinned version, nothing is installed. Installed by name with pip's
# configured index.
set -euo pipefail

VERSION="4.32.5"
VENV="${AGENTSIGHT_SCHEMATHESIS_VENV:-$HOME/.cache/agentsight/venv-schemathesis}"
PYTHON="${PYTHON:-python3}"

venv_ready() {
    [ -x "$VENV/bin/schemathesis" ] || return 1
    "$VENV/bin/python" - "$VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib import metadata
sys.exit(0 if metadata.version("schemathesis") == sys.argv[1] else 1)
PY
}

if venv_ready; then
    echo "setup-schemathesis-venv: schemathesis==$VERSION already installed in $VENV" >&2
    echo "$VENV"
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    echo "setup-schemathesis-venv: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
echo "setup-schemathesis-venv: installing schemathesis==$VERSION" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
if ! venv_ready; then
    echo "setup-schemathesis-venv: install finished but schemathesis==$VERSION is not in $VENV" >&2
    exit 1
fi
echo "$VENV"
