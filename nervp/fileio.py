"""Small files written atomically: a temporary name in the same folder, then a rename, so a
crash never leaves a half-written file where a finished one is expected."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path | str, text: str) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json_atomic(path: Path | str, payload: Any, indent: int | None = 1) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=indent))
