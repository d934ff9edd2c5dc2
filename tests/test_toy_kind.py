"""README's "To add a kind of measurement" steps are enough: one module and one line in KINDS make a CLI verb.

The toy kind (``tests/toy_kind.py``) follows the steps; registering it here stands for the one line in
``core/kinds/__init__.py``. The verb then has ``--json``, the budget options and one-line errors for free.
"""

from __future__ import annotations

import json

import pytest

from core import cli
from core.kinds import KINDS, kind, kind_of
from tests.toy_kind import ToySpec


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(KINDS, "toy", "tests.toy_kind")


def test_the_toy_kind_is_a_kind(toy: None) -> None:
    assert kind("toy").name == "toy" and kind_of(ToySpec(3)) is kind("toy")


def test_its_verb_prints_json_and_text(toy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["toy", "--n", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "toy" and out["n"] == 3 and len(out["calls"]) == 3
    assert cli.main(["toy", "--n", "2"]) == 0
    assert capsys.readouterr().out.startswith("toy: 2 calls")


def test_its_bad_input_is_one_line_and_status_2(toy: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["toy", "--n", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "n must be a whole number from 1 to 1000" in err, err
