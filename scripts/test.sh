#!/usr/bin/env bash
# The whole test suite, from a fresh machine: lints, the web dashboard (typecheck, Vitest, build,
# web/dist matches its sources), Rust unit/API/durability tests (nextest; the PostgreSQL and
# ClickHouse stores against throwaway Debian servers, the ClickHouse store again against chdb, i.e.
# current ClickHouse), the OpenAPI document and the dashboard's types generated from it match what
# is committed, Schemathesis against the release binary (scripts/schemathesis.sh), a short run of
# each fuzz target (scripts/fuzz.sh), the real AgentSight
# SDKs 0.0.44 and 0.1.4 (with openai) from PyPI driving the release binary (pytest), also through
# deploy/nginx.conf with TLS (Debian's nginx, installed when missing), then the dashboard end to end in
# Debian's Chromium (playwright-core) against that binary.
#
#   ./scripts/test.sh
#
# Build caches go to $CARGO_TARGET_DIR (default ~/.cache/agentsight/target) and the SDK venv to
# ~/.cache/agentsight/venv-sdk00 and venv-sdk01 (aiosmtpd's, for the mail tests, to venv-aiosmtpd), so a
# second run is quick; a fresh machine builds everything.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agentsight/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n== %s\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "every store trait method is in the contract coverage table (docs/architecture.md)"
python3 scripts/check-store-coverage.py

step "core stays free of async, HTTP and SQL crates"
if cargo tree -p agentsight-core -e normal --prefix none | grep -E '^(tokio|axum|hyper|rusqlite|reqwest) '; then
    echo "agentsight-core must not depend on the crates above" >&2
    exit 1
fi

step "docs: every protocol section cited (A2.6, B4, …) is a heading of docs/sdk-protocol.md; nothing points outside the repository"
python3 scripts/check-doc-refs.py

step "the HTTP server and the write path depend on no storage backend (the binary chooses it)"
for crate in agentsight-server agentsight-ingest; do
    if cargo tree -p "$crate" --prefix none | grep -E '^(agentsight-store-[a-z]+|rusqlite|libsqlite3-sys) '; then
        echo "$crate must not depend on a storage backend: the binary (crates/agentsight) opens it" >&2
        exit 1
    fi
done

step "web dashboard: npm ci, typecheck, unit tests (Vitest), build, web/dist is what the sources build"
(
    cd web
    npm ci --no-audit --no-fund
    npm run typecheck
    npm test
    npm run build
)
if [ -n "$(git status --porcelain -- web/dist)" ]; then
    git status --short -- web/dist >&2
    echo "web/dist differs from what web/ builds: run (cd web && npm ci && npm run build) and commit web/dist" >&2
    exit 1
fi

step "release build (the binary the SDK suite and the benchmarks run)"
cargo build --release --locked -p agentsight -p agentsight-loadgen

step "OpenAPI: web/openapi.json is what the release binary prints, web/src/api/schema.ts what openapi-typescript makes of it"
"$CARGO_TARGET_DIR/release/agentsight" openapi > web/openapi.json
(cd web && npm run gen)
if [ -n "$(git status --porcelain -- web/openapi.json web/src/api/schema.ts)" ]; then
    git status --short -- web/openapi.json web/src/api/schema.ts >&2
    echo "the OpenAPI document or the dashboard's generated types differ from what is committed: run" >&2
    echo "  cargo run -p agentsight -- openapi > web/openapi.json && (cd web && npm run gen)  and commit both" >&2
    exit 1
fi

step "Schemathesis against the release binary from its OpenAPI document (every operation, bounded examples)"
scripts/schemathesis.sh --bin "$CARGO_TARGET_DIR/release/agentsight" --max-examples 15

step "deploy/: the systemd units pass systemd-analyze verify (Debian's systemd)"
scripts/check-deploy-units.sh "$CARGO_TARGET_DIR/release/agentsight"

step "geolocation data (DB-IP Lite, fetched once with npm and verified)"
# The directory `agentsight serve` reads when started here (README): <data-dir>/geo, with the
# data dir ./data unless AGENTSIGHT_DATA_DIR says otherwise. Absolute, for tests in other dirs.
export AGENTSIGHT_GEO_DIR="${AGENTSIGHT_GEO_DIR:-$(realpath -m "${AGENTSIGHT_DATA_DIR:-./data}")/geo}"
scripts/fetch-geo.sh --geo-dir "$AGENTSIGHT_GEO_DIR"

step "PostgreSQL for the configuration store's tests (Debian's postgresql, a throwaway cluster)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Debian's postgresql is missing: sudo apt-get install -y postgresql" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_TEST_DIR="$(mktemp -d)"
trap 'scripts/postgres-test-server.sh stop "$PG_TEST_DIR" >/dev/null 2>&1 || true; rm -rf "$PG_TEST_DIR"' EXIT
PG_TEST_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
AGENTSIGHT_TEST_POSTGRES="$(scripts/postgres-test-server.sh start "$PG_TEST_DIR" "$PG_TEST_PORT")"
export AGENTSIGHT_TEST_POSTGRES

step "ClickHouse for the event store's tests (Debian's clickhouse-server, two throwaway shards)"
if ! command -v clickhouse-server >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Debian's clickhouse-server is missing: sudo apt-get install -y clickhouse-server clickhouse-client" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
fi
CH_TEST_DIR="$(mktemp -d)"
trap 'scripts/postgres-test-server.sh stop "$PG_TEST_DIR" >/dev/null 2>&1 || true; rm -rf "$PG_TEST_DIR"; scripts/clickhouse-test-server.sh stop "$CH_TEST_DIR" >/dev/null 2>&1 || true; rm -rf "$CH_TEST_DIR"' EXIT
CH_TEST_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
AGENTSIGHT_TEST_CLICKHOUSE="$(scripts/clickhouse-test-server.sh start "$CH_TEST_DIR" "$CH_TEST_PORT" 2)"
export AGENTSIGHT_TEST_CLICKHOUSE

step "aiosmtpd (PyPI) for the alert and mail delivery tests (a real SMTP receiver with STARTTLS and AUTH)"
AIOSMTPD_VENV="$(scripts/setup-pinned-venv.sh aiosmtpd 1.4.6 | tail -n 1)"
export AGENTSIGHT_AIOSMTPD_PYTHON="$AIOSMTPD_VENV/bin/python"
"$AGENTSIGHT_AIOSMTPD_PYTHON" -c "import aiosmtpd" || { echo "aiosmtpd is missing from $AIOSMTPD_VENV" >&2; exit 1; }
if ! command -v openssl >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Debian's openssl is missing (the SMTP test makes its CA with it): sudo apt-get install -y openssl" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

step "Rust tests: unit, store contract, metrics vs reference, API, CLI, SIGKILL durability, geolocation"
if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "cargo-nextest is required (cargo install cargo-nextest --locked)" >&2
    exit 1
fi
cargo nextest run --workspace --locked --no-fail-fast

step "the ClickHouse event store's statements on current ClickHouse: its contract suite against chdb (PyPI)"
# Debian's server above is 18.16; chdb is ClickHouse 26.x in process, served over HTTP by
# scripts/chdb-http.py. One server, so the cluster module (Distributed tables) is left out.
CHDB_TEST_DIR="$(mktemp -d)"
CHDB_TEST_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
CHDB_URL="$(scripts/chdb-test-server.sh start "$CHDB_TEST_DIR" "$CHDB_TEST_PORT")"
AGENTSIGHT_TEST_CLICKHOUSE="$CHDB_URL" cargo nextest run --locked -p agentsight-store-clickhouse --test contract \
    -E 'not test(/^cluster::/)' --no-fail-fast
scripts/chdb-test-server.sh stop "$CHDB_TEST_DIR"
rm -rf "$CHDB_TEST_DIR"

step "fuzz targets (docs/fuzzing.md): build, replay seeds and regressions, 15 s of fuzzing each"
scripts/fuzz.sh --seconds 15

step "the real SDK 0.0.44 against the release binary (tracking, reads, metrics)"
VENV="$(scripts/setup-sdk-venv.sh | tail -n 1)"
export AGENTSIGHT_BIN="$CARGO_TARGET_DIR/release/agentsight"
"$VENV/bin/python" -m pytest tests/sdk -q -p no:cacheprovider

step "nginx and openssl for the TLS proxy test (deploy/nginx.conf in front of the release binary)"
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ] || ! command -v openssl >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Debian's nginx or openssl is missing: sudo apt-get install -y nginx openssl" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl >/dev/null
    # The package may start its system service; the test runs its own nginx on other ports.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
        systemctl disable --now nginx >/dev/null 2>&1 || true
    elif [ -f /run/nginx.pid ]; then
        /usr/sbin/nginx -s stop >/dev/null 2>&1 || true
    fi
fi

step "the real SDK 0.1.4 (spans, data plane, openai instrumentation), the cross-SDK parity test, and the TLS proxy (deploy/nginx.conf)"
VENV01="$(scripts/setup-sdk-venv.sh 0.1.4 | tail -n 1)"
AGENTSIGHT_SDK00_PYTHON="$VENV/bin/python" "$VENV01/bin/python" -m pytest tests/sdk01 -q -p no:cacheprovider

step "the dashboard end to end: Debian's Chromium (playwright-core) against the release binary, data through the SDK"
if ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "Debian's chromium is missing: sudo apt-get install -y chromium fonts-noto-color-emoji" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
fi
export AGENTSIGHT_SDK_PYTHON="$VENV/bin/python"
(cd web && npm run e2e)
