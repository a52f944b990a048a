#!/usr/bin/env bash
# Create (or reuse) the Python venv that holds aiosmtpd, the real SMTP receiver (STARTTLS and
# AUTH) the API tests of alerts and mail delivery start (crates/agentsight/tests/api/notify.rs):
#
#   VENV=$(scripts/setup-aiosmtpd-venv.sh)   # prints the venv path as its last line
#
# ~/.cache/agentsight/venv-aiosmtpd, or $AGENTSIGHT_AIOSMTPD_VENV. Idempotent: when the venv
# already has the pinned version, nothing is installed. Installed by name with pip's configured
# index. The tests find it through $AGENTSIGHT_AIOSMTPD_PYTHON (its python) and fail, not skip,
# without it.
set -euo pipefail

VERSION="1.4.6"
VENV="${AGENTSIGHT_AIOSMTPD_VENV:-$HOME/.cache/agentsight/venv-aiosmtpd}"
PYTHON="${PYTHON:-python3}"

venv_ready() {
    [ -x "$VENV/bin/python" ] || return 1
    "$VENV/bin/python" - "$VERSION" <<'PY' >/dev/null 2>&1
import sys
from importlib import metadata
sys.exit(0 if metadata.version("aiosmtpd") == sys.argv[1] else 1)
PY
}

if venv_ready; then
    echo "setup-aiosmtpd-venv: aiosmtpd==$VERSION already installed in $VENV" >&2
    echo "$VENV"
    exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    echo "setup-aiosmtpd-venv: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
fi
echo "setup-aiosmtpd-venv: installing aiosmtpd==$VERSION" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$VERSION" >&2
if ! venv_ready; then
    echo "setup-aiosmtpd-venv: install finished but aiosmtpd==$VERSION is not in $VENV" >&2
    exit 1
fi
echo "$VENV"
