#!/usr/bin/env bash
# Create (or reuse) a Python venv holding one pinned tool from PyPI, for the test suite:
# aiosmtpd (the real SMTP receiver of the mail tests), schemathesis (scripts/schemathesis.sh),
# chdb (scripts/chdb-test-server.sh).
#
#   VENV=$(scripts/setup-pinned-venv.sh PACKAGE VERSION)   # prints the venv path as its last line
#
# The venv is ~/.cache/agentsight/venv-PACKAGE, or $AGENTSIGHT_<PACKAGE>_VENV (upper case).
# Idempotent: when it already has PACKAGE==VERSION, nothing is installed. Installed by name with
# pip's configured index.
set -euo pipefail

PACKAGE="${1:?usage: $0 PACKAGE VERSION}"
VERSION="${2:?usage: $0 PACKAGE VERSION}"
override="AGENTSIGHT_$(echo "$PACKAGE" | tr '[:lower:]-' '[:upper:]_')_VENV"
VENV="${!override:-$HOME/.cache/agentsight/venv-$PACKAGE}"
PYTHON="${PYTHON:-python3}"
me="setup-pinned-venv"

venv_ready() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$PACKAGE" "$VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib import metadata
sys.exit(0 if metadata.version(sys.argv[1]) == sys.argv[2] else 1)
PY
}

if venv_ready; then
    echo "$me: $PACKAGE==$VERSION already installed in $VENV" >&2
    echo "$VENV"
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    echo "$me: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
echo "$me: installing $PACKAGE==$VERSION into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$PACKAGE==$VERSION" >&2
if ! venv_ready; then
    echo "$me: install finished but $PACKAGE==$VERSION is not in $VENV" >&2
    exit 1
fi
echo "$VENV"
