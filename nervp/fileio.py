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


def write_tensors_atomic(path: Path | str, tensors: dict, metadata: dict[str, str] | None = None) -> Path:
    """A safetensors file written atomically. safetensors reports a failed write (a full disk) as
    its own error with the OS error's number in the text; it is raised here as the OSError it is,
    so the CLI can say so in one line."""
    import re

    from safetensors import SafetensorError
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
        except SafetensorError as e:
            code = re.search(r"os error (\d+)", str(e))
            if code is None:
                raise
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(path)) from e
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
