#!/usr/bin/env bash
# Checks the systemd units in deploy/ with `systemd-analyze verify` (Debian's systemd package;
# installed when missing and running as root), with ExecStart pointed at the binary given (the
# release build) since /usr/local/bin/agentsight need not exist here. Any finding fails, as does
# a stop timeout that does not leave the server's drain (--shutdown-timeout) room.
#
#   scripts/check-deploy-units.sh target/release/agentsight
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(realpath "${1:?usage: check-deploy-units.sh PATH-TO-AGENTSIGHT}")"
[ -x "$BIN" ] || { echo "$BIN is not an executable" >&2; exit 1; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "systemd-analyze is missing: sudo apt-get install -y systemd" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp deploy/agentsight.socket deploy/agentsight.service "$work/"
sed -i "s|/usr/local/bin/agentsight|$BIN|g" "$work/agentsight.service"
findings="$(cd "$work" && systemd-analyze verify ./agentsight.socket ./agentsight.service 2>&1)" || {
    echo "$findings" >&2
    exit 1
}
if [ -n "$findings" ]; then
    echo "systemd-analyze verify found:" >&2
    echo "$findings" >&2
    exit 1
fi

# The stop timeout must exceed the drain the service asks for (default 30 s).
stop="$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' deploy/agentsight.service)"
drain="$(sed -n 's/^ExecStart=.*--shutdown-timeout \([0-9]*\).*$/\1/p' deploy/agentsight.service)"
drain="${drain:-30}"
if [ -z "$stop" ] || [ "$stop" -le "$drain" ]; then
    echo "deploy/agentsight.service: TimeoutStopSec (${stop:-unset}) must exceed --shutdown-timeout ($drain)" >&2
    exit 1
fi
# The service serves on the socket unit's socket, and the binary knows the flags it is given.
grep -q '^Requires=agentsight.socket$' deploy/agentsight.service ||
    { echo "deploy/agentsight.service must require agentsight.socket" >&2; exit 1; }
"$BIN" serve --help | grep -q -- '--shutdown-timeout' ||
    { echo "$BIN serve has no --shutdown-timeout" >&2; exit 1; }
echo "deploy/agentsight.socket and deploy/agentsight.service: OK"
