"""A small seeded mutator: byte-level edits for any file, structural edits for JSON.

Used by `run.py` when atheris is not installed (or not asked for); atheris brings its own
coverage-guided mutator over bytes.
"""

from __future__ import annotations

import json
import random
from typing import Any

INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f",
               b"\x00\x00\x00\x80", b"\x00\x00\x01\x00", b"\x10\x00\x00\x00", b"\x00\x00\x00\x00"]
JSON_VALUES: list[Any] = [None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63), 10**400, 1e308, -1e308,
                          0.5, float("nan"), float("inf"), "", "x", "float16", "<f8", "|O", [], [0],
                          [-1, 2], {}, {"a": 1}, "\u0000", "é" * 3]


def mutate_bytes(data: bytes, rng: random.Random, corpus: list[bytes]) -> bytes:
    """1-4 random edits: bit flips, byte sets, interesting values, inserts, deletions,
    duplications, truncation and splices with another corpus entry."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(b)
        i = rng.randrange(n + 1)
        if op == 0 and n:
            b[min(i, n - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[min(i, n - 1)] = rng.randrange(256)
        elif op == 2:
            v = rng.choice(INTERESTING)
            b[i:i + len(v)] = v
        elif op == 3:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif op == 4 and n:
            del b[i:i + rng.randint(1, max(1, n // 8))]
        elif op == 5 and n:
            j = rng.randrange(n)
            b[i:i] = b[j:j + rng.randint(1, 64)]
        elif op == 6:
            del b[i:]
        else:
            other = rng.choice(corpus)
            j = rng.randrange(len(other) + 1)
            b = b[:i] + other[j:]
    return bytes(b)


def _nodes(x: Any, out: list[tuple[Any, Any]]) -> None:
    """(container, key) of every value inside x."""
    items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, list) else ()
    for k, v in items:
        out.append((x, k))
        _nodes(v, out)


def mutate_json(data: bytes, rng: random.Random) -> bytes | None:
    """Edit the structure of a JSON document (None when it does not parse): replace a value,
    delete a key or item, duplicate one, nest it, or replace the whole document."""
    try:
        doc = json.loads(data)
        return _edit(doc, rng)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to walk
        return None


def _edit(doc: Any, rng: random.Random) -> bytes:
    for _ in range(rng.randint(1, 3)):
        nodes: list[tuple[Any, Any]] = []
        _nodes(doc, nodes)
        if not nodes or rng.random() < 0.03:
            doc = rng.choice(JSON_VALUES)
            continue
        parent, key = rng.choice(nodes)
        op = rng.randrange(5)
        if op == 0:
            parent[key] = rng.choice(JSON_VALUES)
        elif op == 1:
            del parent[key]
        elif op == 2:
            parent[key] = [parent[key]] if rng.random() < 0.5 else {"v": parent[key]}
        elif op == 3 and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
            try:
                parent[key] = rng.choice([-1, 0, 2, 1000, 1e9, 0.5, -0.5]) * (parent[key] or 1)
            except OverflowError:
                parent[key] = -parent[key]
        elif op == 3 and isinstance(parent[key], str):
            parent[key] = parent[key][: rng.randrange(len(parent[key]) + 1)] + rng.choice(["", "x", "1", "/"])
        elif isinstance(parent, list):
            parent.insert(key, parent[key])
        else:
            parent[f"{key}_"] = parent[key]
    return json.dumps(doc).encode()


def mutate(data: bytes, rng: random.Random, corpus: list[bytes], is_json: bool) -> bytes:
    """A mutant of `data`: structural half the time for JSON targets, else byte-level."""
    if is_json and rng.random() < 0.6:
        out = mutate_json(data, rng)
        if out is not None:
            return out
    return mutate_bytes(data, rng, corpus)
