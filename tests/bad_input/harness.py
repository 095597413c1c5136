"""The bad-input catalogue's one check: a command given bad input or hit by a fault fails the way
a user can act on.

`refused(capsys, argv, inputs, outputs, match)` runs `nervp ARGV` in-process and asserts:
* a non-zero exit code;
* exactly one error line (`nervp: error: ...`) on stderr, matching `match` (the file or the
  option it names, and the fix), and no traceback;
* every file under `inputs` is byte-for-byte what it was (hashed before and after);
* each path in `outputs` is as it was before (absent, or unchanged) and no temporary sibling
  (`.NAME.*`, `NAME.partial`, `NAME.tmp`) is left beside it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from pathlib import Path

from nervp.cli import main


def snapshot(path: Path) -> dict[str, str] | None:
    """Hash of every file under `path` (or of `path` itself); None when it does not exist."""
    path = Path(path)
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def leftovers(path: Path) -> list[str]:
    """Temporary siblings a writer of `path` may have left behind."""
    path = Path(path)
    if not path.parent.exists():
        return []
    name = path.name
    return sorted(p.name for p in path.parent.iterdir()
                  if p.name.startswith(f".{name}.") or p.name in (f"{name}.partial", f"{name}.tmp")
                  or (p.name.startswith(f".{name}") and p.name.endswith(".tmp")))


def refused(capsys, argv: Iterable[object], inputs: Iterable[Path] = (), outputs: Iterable[Path] = (),
            match: str = "") -> str:
    """Run `nervp ARGV`; assert it fails cleanly (module docstring); return the error line."""
    argv = [str(a) for a in argv]
    inputs, outputs = [Path(p) for p in inputs], [Path(p) for p in outputs]
    before_in = {p: snapshot(p) for p in inputs}
    before_out = {p: snapshot(p) for p in outputs}
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0, f"nervp {' '.join(argv)} exited 0"
    assert "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("nervp: error:")]
    assert len(lines) == 1, f"expected one error line, got:\n{err[-3000:]}"
    assert re.search(match, lines[0]), f"{lines[0]!r} does not match {match!r}"
    for p, snap in before_in.items():
        assert snapshot(p) == snap, f"input {p} was changed"
    for p, snap in before_out.items():
        assert snapshot(p) == snap, f"output {p} was changed or left behind"
        assert not leftovers(p), f"left behind beside {p}: {leftovers(p)}"
    return lines[0]
