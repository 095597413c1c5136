"""Write the bad-input catalogue's table into docs/RELIABILITY.md from the tests themselves.

Every case is a test (or a parametrised case) under tests/bad_input/ and tests/reliability/;
the table lists each one with the test file, its id and the first line of its test's
docstring, between the markers `<!-- catalogue -->` and `<!-- /catalogue -->`.

    python scripts/reliability_table.py          # rewrite the table
    python scripts/reliability_table.py --check  # exit 1 when the table is out of date
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"
DIRS = ("tests/bad_input", "tests/reliability")
START, END = "<!-- catalogue -->", "<!-- /catalogue -->"


def _docstrings(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            doc = ast.get_docstring(node) or ""
            out[node.name] = doc.strip().splitlines()[0] if doc.strip() else node.name.replace("_", " ")
    return out


def cases() -> list[tuple[str, str, str]]:
    """(file, case id, what it checks) for every collected catalogue case."""
    dirs = [d for d in DIRS if (ROOT / d).is_dir()]
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *dirs],
                       cwd=ROOT, capture_output=True, text=True)
    rows, docs = [], {}
    for line in r.stdout.splitlines():
        m = re.match(r"^(tests/\S+\.py)::(\w+)(?:\[(.*)\])?$", line.strip())
        if not m:
            continue
        file, func, param = m.groups()
        if file not in docs:
            docs[file] = _docstrings(ROOT / file)
        rows.append((file.removeprefix("tests/"), param or func, docs[file].get(func, func)))
    return rows


def table(rows: list[tuple[str, str, str]]) -> str:
    lines = [f"{len(rows)} cases (`python scripts/reliability_table.py` writes this table from the tests).", "",
             "| # | test file | case | what is checked |", "|---|---|---|---|"]
    for i, (file, case, what) in enumerate(rows, 1):
        lines.append(f"| {i} | {file} | `{case.replace('|', '/')}` | {what.replace('|', '/')} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the table is current")
    a = ap.parse_args()
    text = DOC.read_text() if DOC.exists() else f"# Reliability\n\n## The bad-input catalogue\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n## The bad-input catalogue\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    new = f"{head}{START}\n{table(cases())}\n{END}{tail}"
    if a.check:
        return 0 if new == text else 1
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
