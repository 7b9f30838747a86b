"""One table of codes: every code and HTTP status the function answers with is spelled in codes.py (ours) or
classifier.py (the API's verdicts), and nowhere else in src/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from conftest import ROOT

from sms_conversion import codes

PACKAGE = ROOT / "src" / "sms_conversion"
HOMES = {"codes.py", "classifier.py"}
CODE = re.compile(r"[A-Z][A-Za-z]+(\.[A-Z][A-Za-z]+)+|MissingParameter|InvalidParameterValue|InternalError")
STATUSES = {value for name, value in vars(codes).items() if name.isupper() and isinstance(value, int)}


def spelled(path: Path) -> list[str]:
    """Code-shaped strings and HTTP status numbers in `path`, outside module-level named constants of
    other meanings (a length of 200 is not a status)."""
    tree = ast.parse(path.read_text())
    constants = {
        id(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and "STATUS" not in ast.unparse(node)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in constants:
            continue
        if isinstance(node.value, str) and CODE.fullmatch(node.value):
            found.append(f"{path.name}:{node.lineno}: {node.value!r}")
        elif type(node.value) is int and node.value in STATUSES:
            found.append(f"{path.name}:{node.lineno}: {node.value}")
    return found


@pytest.mark.parametrize("path", sorted(path for path in PACKAGE.glob("*.py") if path.name not in HOMES), ids=str)
def test_no_other_module_spells_a_code_or_a_status(path: Path) -> None:
    assert spelled(path) == []


def test_the_check_sees_a_code_and_a_status_when_one_is_spelled(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('LIMIT = 200\n\ndef f():\n    return 503, "InvalidParameter.Odd"\n')
    assert spelled(probe) == ["probe.py:4: 503", "probe.py:4: 'InvalidParameter.Odd'"]


def test_every_code_of_ours_keeps_the_apis_shape() -> None:
    ours = [value for name, value in vars(codes).items() if name.isupper() and isinstance(value, str)]
    assert ours
    assert all(CODE.fullmatch(value) for value in ours)
