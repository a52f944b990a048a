#!/usr/bin/env python3
"""Fails (exit 1, one line per problem) when the docs or comments point at nothing:

* a protocol section label (`A2.6`, `B4`, or `Part C` on a line naming sdk-protocol) cited in
  README.md, docs/, a test file, or a comment of a .rs/.sql file, without a heading of that
  label in docs/sdk-protocol.md;
* a reference to notes outside the repository (`../shared`, `shared/docs`).

Run from the repository root: python3 scripts/check-doc-refs.py
"""

import pathlib
import re
import sys

DOC = pathlib.Path("docs/sdk-protocol.md")
LABEL = re.compile(r"\b[AB][0-9]+(?:\.[0-9]+)*\b")
HEADING = re.compile(r"#+ +(?:(Part [A-Z])\b|([AB][0-9]+(?:\.[0-9]+)*)[. ])")
OUTSIDE = re.compile(r"\.\./shared|shared/docs")

headings = {m[1] or m[2] for m in map(HEADING.match, DOC.read_text().splitlines()) if m}
paths = [pathlib.Path("README.md"), *pathlib.Path("docs").rglob("*.md")]
paths += [p for d in ("crates", "tests") for p in pathlib.Path(d).rglob("*")
          if p.suffix in (".rs", ".sql", ".py", ".md")]
problems = []
for path in paths:
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if OUTSIDE.search(line):
            problems.append(f"{path}:{n}: refers outside the repository: {line.strip()}")
        # In Rust and SQL only comments cite sections (code may hold `A1` as a spreadsheet cell).
        text = re.split(r"//|--", line, maxsplit=1)[1:] if path.suffix in (".rs", ".sql") else [line]
        cited = set(LABEL.findall("".join(text)))
        if "sdk-protocol" in line:
            cited |= set(re.findall(r"\bPart [A-Z]\b", line))
        for label in sorted(cited - headings):
            problems.append(f"{path}:{n}: cites {label}, which is not a heading of {DOC}")

for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
