"""The README's Python sections run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(heading: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.parametrize("heading, expected", [
    ("scikit-learn", "OK: strong duality verified"),
    ("pandas, and standard errors", "OK: strong duality verified"),
    ("Certify any theta", "ok=False: theta is within"),
])
def test_readme_section_runs(heading, expected, capsys):
    blocks = _blocks(heading)
    assert blocks, heading
    for code in blocks:
        exec(compile(code, f"README:{heading}", "exec"), {})
    out = capsys.readouterr().out
    assert expected in out
