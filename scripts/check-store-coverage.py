#!/usr/bin/env python3
"""Fails when a store trait method (a line `fn NAME(` in crates/agentsight-store/src/lib.rs,
erasure.rs or notify.rs) has
no row in the "Store contract coverage" table of docs/architecture.md, when a row names a
contract test function (outside parentheses) that crates/agentsight-store/src/testkit/ does not
define, or when a row's Backends cell names PostgreSQL although none of its tests is in
`config_contract_tests!` (the configuration tests, which store-postgres runs), or the reverse,
and likewise for ClickHouse and the testkit macros crates/agentsight-store-clickhouse/tests/
invoke (`tracking_contract_tests!`, `span_contract_tests!`, `metrics_contract_tests!`, …)."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
lib = "".join((root / "crates/agentsight-store/src" / f).read_text() for f in ("lib.rs", "erasure.rs", "notify.rs"))
doc = (root / "docs/architecture.md").read_text()
kit = "".join(p.read_text() for p in (root / "crates/agentsight-store/src/testkit").glob("*.rs"))

# Methods declared inside `pub trait … { … }` blocks (a block ends at a `}` in column 0).
traits = re.findall(r"^pub trait [^\n]*?\{\n(.*?)^\}", lib, re.S | re.M)
methods = sorted(set(re.findall(r"\bfn ([a-z_][a-z0-9_]*)\(", "".join(traits))))
_, sep, table = doc.partition("## Store contract coverage")
if not sep:
    sys.exit("docs/architecture.md has no '## Store contract coverage' section")
table = table.split("\n## ", 1)[0]
macro = re.search(r"macro_rules! config_contract_tests \{.*?@each \$make;(.*?)\);", kit, re.S)
if not macro:
    sys.exit("crates/agentsight-store/src/testkit/ has no config_contract_tests! macro")
config_tests = set(re.findall(r"[a-z_][a-z0-9_]*", macro.group(1)))
# The ClickHouse store runs the testkit macros its tests/ invoke (tracking_contract_tests!,
# span_contract_tests!, ...).
ch_tests = "".join(p.read_text() for p in (root / "crates/agentsight-store-clickhouse/tests").glob("*.rs"))
tracking_tests = set()
for name in sorted(set(re.findall(r"agentsight_store::([a-z_]*contract_tests)!", ch_tests))):
    m = re.search(rf"macro_rules! {name} \{{.*?@each \$make;(.*?)\);", kit, re.S)
    if m:
        tracking_tests |= set(re.findall(r"[a-z_][a-z0-9_]*", m.group(1)))
# The metrics property runs outside the macros' lists: in metrics_contract_tests!, or called
# by the ClickHouse tests themselves.
if "metrics_agree_with_reference" in ch_tests:
    tracking_tests.add("metrics_agree_with_reference")
metrics = re.search(r"macro_rules! metrics_contract_tests \{(.*?)\n\}", kit, re.S)
if metrics:
    if "metrics_agree_with_reference" in metrics.group(1):
        tracking_tests.add("metrics_agree_with_reference")
rows = {}
wrong_backends = []
for line in table.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    m = re.fullmatch(r"`(?:[A-Za-z]+::)?([a-z_][a-z0-9_]*)`", cells[0]) if len(cells) >= 2 else None
    if m:
        rows[m.group(1)] = re.findall(r"`([a-z_][a-z0-9_]*)`", re.sub(r"\([^)]*\)", "", cells[-1]))
        if len(cells) >= 3 and ("PostgreSQL" in cells[1]) != bool(config_tests & set(rows[m.group(1)])):
            wrong_backends.append(m.group(1))
        if len(cells) >= 3 and ("ClickHouse" in cells[1]) != bool(tracking_tests & set(rows[m.group(1)])):
            wrong_backends.append(m.group(1))

missing = [m for m in methods if m not in rows]
empty = [m for m in methods if m in rows and not rows[m]]
unknown = sorted({f for fs in rows.values() for f in fs if not re.search(rf"\bfn {f}\b", kit)})
for what, names in (
    ("no row", missing),
    ("no test named", empty),
    ("not a testkit function", unknown),
    ("Backends cell disagrees with config_contract_tests! or the macros store-clickhouse runs", wrong_backends),
):
    if names:
        print(f"store contract coverage: {what}: {', '.join(names)}", file=sys.stderr)
if missing or empty or unknown or wrong_backends:
    sys.exit(1)
print(f"store contract coverage: all {len(methods)} trait methods have contract tests")
