"""`nervp SUB --help` exits 0 for every subcommand the top-level help lists (found by parsing
`python -m nervp.cli --help`, so the test follows the CLI when it is restructured)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


def _help(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nervp.cli", *args, "--help"], capture_output=True, text=True,
                          env=ENV, cwd=ROOT, timeout=300)


def subcommands(text: str) -> list[str]:
    """The names in the usage line's `{a,b,c}` choice group (argparse/tyro style)."""
    m = re.search(r"\{([\w.-]+(?:,[\w.-]+)+)\}", text)
    assert m, f"no subcommand list in the help:\n{text[:2000]}"
    return m.group(1).split(",")


def test_every_subcommand_has_help():
    top = _help()
    assert top.returncode == 0, top.stderr[-2000:]
    subs = subcommands(top.stdout)
    assert len(subs) >= 5 and "train" in subs
    # all at once: each child spends its time importing, the machine's cores share them
    procs = {s: subprocess.Popen([sys.executable, "-m", "nervp.cli", s, "--help"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT) for s in subs}
    failed = {}
    for s, p in procs.items():
        out, err = p.communicate(timeout=300)
        if p.returncode != 0 or "usage" not in out.lower():
            failed[s] = (p.returncode, err[-500:])
    assert not failed, failed
