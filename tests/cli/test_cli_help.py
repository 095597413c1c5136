"""`nervp SUB --help` exits 0 for every subcommand the top-level help lists (found by parsing
`nervp --help`, so the test follows the CLI when it is restructured). In-process: tyro prints
the help and exits 0."""

import re

import pytest

from nervp.cli import main


def _help(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as e:
        main([*args, "--help"])
    assert e.value.code == 0, args
    return capsys.readouterr().out


def subcommands(text: str) -> list[str]:
    """The names in the usage line's `{a,b,c}` choice group (argparse/tyro style)."""
    m = re.search(r"\{([\w.-]+(?:,[\w.-]+)+)\}", text)
    assert m, f"no subcommand list in the help:\n{text[:2000]}"
    return m.group(1).split(",")


def test_every_subcommand_has_help(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    subs = subcommands(_help(capsys))
    assert len(subs) >= 5 and "train" in subs
    for s in subs:
        assert "usage" in _help(capsys, s).lower(), s


def test_help_shows_the_chosen_presets_defaults(capsys, monkeypatch):
    from nervp.presets import TRAIN_PRESETS

    monkeypatch.setenv("COLUMNS", "200")
    for name, cfg in TRAIN_PRESETS.items():
        text = _help(capsys, "train", "--preset", name)
        assert re.search(rf"--steps INT\s.*\(default: {cfg.steps}\)", text), name
