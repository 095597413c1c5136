"""The benchmarks' results contract (benchmarks/README.md): every committed results JSON is
{"machine": {...}, "method": "...", "results": {...}, "ratios": {...}}, and every benchmark script
writes through benchmarks/common.py's helper."""

import ast
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
RESULTS = sorted((BENCH / "results").glob("*.json"))
SCRIPTS = sorted([*BENCH.glob("bench_*.py"), BENCH / "lowrank_bound.py", BENCH / "blink_test.py"])
WRITERS = {"write_results", "write"}  # common.write is the same function (older imports)


def test_there_are_results_and_scripts():
    assert len(RESULTS) >= 5 and len(SCRIPTS) >= 5


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_results_json_follows_the_contract(path):
    d = json.loads(path.read_text())
    assert isinstance(d, dict) and set(d) == {"machine", "method", "results", "ratios"}, sorted(d)
    assert isinstance(d["machine"], dict) and d["machine"]
    assert "torch" in d["machine"] or "cuda_device" in d["machine"]
    assert isinstance(d["method"], str) and d["method"].strip()
    assert isinstance(d["results"], dict) and d["results"]
    assert isinstance(d["ratios"], dict)
    if not d["ratios"]:  # empty only where the run has no baseline, and the method says so
        assert "ratios" in d["method"], "an empty ratios must be explained in method"


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_writes_through_the_common_helper(path):
    tree = ast.parse(path.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "common"
                for a in n.names}
    assert imported & WRITERS, f"{path.name} does not import common.write_results"
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert called & imported & WRITERS, f"{path.name} does not call the common writer"


def test_shell_benchmark_summary_uses_the_helper():
    text = (BENCH / "translator_quality.sh").read_text()
    assert "from common import write_results" in text and "write_results(" in text


def test_helper_enforces_the_contract(tmp_path):
    import sys

    sys.path.insert(0, str(BENCH))
    try:
        from common import check_results, write_results
    finally:
        sys.path.remove(str(BENCH))
    p = write_results(tmp_path / "x.json", method="m; no baseline: ratios is empty", results={"a": 1.0}, ratios={})
    d = json.loads(p.read_text())
    check_results(d)
    assert {"cpu", "cores", "os", "python", "torch", "torch_build", "blas", "env"} <= set(d["machine"])
    with pytest.raises(ValueError):
        write_results(tmp_path / "y.json", method="", results={"a": 1.0}, ratios={})
    assert not (tmp_path / "y.json").exists()
