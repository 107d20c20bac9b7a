"""Every code block of the README runs as written, and prints what the README shows.

Each fenced block is labelled: ``python`` (run, in order, each in a fresh namespace and an empty
working folder), ``sh`` (each line run by the shell, with this interpreter's ``bin`` first on
``PATH``; it must exit 0) or ``text`` (an output or a formula, not run). A ``text`` block right
after a ``python`` block is that block's output: the printed lines must match it with every
number masked (numbers differ from machine to machine; words, signs of the verdict and the
layout must not). A shell block is exempt only with the marker ``<!-- not run by
tests/test_readme.py: REASON -->`` on the line before it, and the exempt blocks are exactly
``EXEMPT``.

The README is for users: at most ``MAX_LINES`` lines, with the measurements and design notes in
``docs/``; every relative link of the README and of ``docs/*.md`` points to a file that exists,
and the two Quickstart lines that ``.ci/run`` reads are there, as it greps for them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: The README's length limit (issue 22): the logs live in docs/performance.md and docs/design.md.
MAX_LINES = 320
MARKER = re.compile(r"<!-- not run by tests/test_readme\.py: (.+?) -->\s*$")
LANGUAGES = {"python", "sh", "text"}

#: The shell blocks not run, by their first line: installing the package and running the whole
#: test suite, and a Dask cluster over files of Parquet and CSV.
EXEMPT = {
    "pip install . && dualmaxent verify",
    "dualmaxent verify 'data/*.parquet' --target y --engine dask                   # a local "
    "cluster",
}


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # of the opening fence, 1-based
    exempt: str | None  # the marker's reason
    follows_python: bool  # a text block right after a python block (blank lines between)


def _blocks() -> list[Block]:
    lines = README.read_text(encoding="utf-8").split("\n")
    blocks, i, previous_end, previous_language = [], 0, -10, None
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        start, language = i, lines[i][3:].strip()
        i += 1
        body = []
        while not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        marker = MARKER.match(lines[start - 1]) if start else None
        between = lines[previous_end + 1:start] if previous_end >= 0 else ["x"]
        blocks.append(Block(language, "\n".join(body) + "\n", start + 1,
                            marker.group(1) if marker else None,
                            previous_language == "python" and not any(s.strip()
                                                                      for s in between)))
        previous_end, previous_language = i, language
        i += 1
    return blocks


BLOCKS = _blocks()
PYTHON = [b for b in BLOCKS if b.language == "python"]
SHELL = [b for b in BLOCKS if b.language == "sh"]


def _output_of(block: Block) -> Block | None:
    after = BLOCKS[BLOCKS.index(block) + 1:]
    return after[0] if after and after[0].follows_python else None


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"


def _masked(expected: str) -> re.Pattern:
    """``expected`` as a pattern, each number (and a dict or tuple's contents) free."""
    parts = re.split(f"({_NUMBER})", expected)
    return re.compile("".join(_NUMBER if k % 2 else re.escape(part)
                              for k, part in enumerate(parts)))


def test_every_block_is_labelled():
    unlabelled = [b.line for b in BLOCKS if b.language not in LANGUAGES]
    assert not unlabelled, f"README code blocks without python/sh/text at lines {unlabelled}"
    assert len(PYTHON) >= 6 and len(SHELL) >= 3


def test_the_readme_is_at_most_max_lines_long():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; at most {MAX_LINES}"


def test_the_quickstart_lines_ci_reads_are_there():
    """``.ci/run`` runs the first README line matching each of its two patterns."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    patterns = re.findall(r"grep -m1 -E '(.+?)' README\.md", ci)
    assert len(patterns) == 2, patterns
    lines = README.read_text(encoding="utf-8").splitlines()
    for pattern in patterns:
        assert any(re.search(pattern, line) for line in lines), pattern
    quickstart = README.read_text(encoding="utf-8").split("\n## Quickstart\n")[1]
    assert "pip install . && dualmaxent verify\n" in quickstart
    assert 'pip install ".[test]" && pytest\n' in quickstart


@pytest.mark.parametrize("path", ["README.md", *sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_every_relative_link_points_to_a_file(path):
    """Links and images such as ``[text](docs/json.md#keys)`` or ``![x](../figures/a.png)``."""
    source = ROOT / path
    text = re.sub(r"```.*?```", "", source.read_text(encoding="utf-8"), flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets or path != "README.md"
    missing = [t for t in targets if "://" not in t and not t.startswith("#")
               and not (source.parent / t.split("#")[0]).exists()]
    assert not missing, (path, missing)
    # an anchor names a heading of its file, as GitHub spells it
    broken = [t for t in targets if "://" not in t and "#" in t
              and t.split("#")[1] not in _anchors(source.parent / t.split("#")[0]
                                                    if t.split("#")[0] else source)]
    assert not broken, (path, broken)


def _anchors(path: Path) -> set:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces
    to hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_the_exempt_shell_blocks_are_exactly_the_listed_ones():
    marked = {b.code.splitlines()[0] for b in BLOCKS if b.exempt}
    assert marked == EXEMPT
    assert all(b.language == "sh" for b in BLOCKS if b.exempt)  # python always runs


@pytest.mark.parametrize("block", PYTHON, ids=[f"line{b.line}" for b in PYTHON])
def test_python_block_runs_and_prints_what_the_readme_shows(block, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    shown = _output_of(block)
    if shown is None:
        return
    expected, got = shown.code.rstrip("\n").splitlines(), printed.rstrip("\n").splitlines()
    assert len(got) == len(expected), (printed, shown.code)
    for want, line in zip(expected, got):
        assert _masked(want).fullmatch(line), (want, line)


@pytest.mark.parametrize("block", [b for b in SHELL if not b.exempt],
                         ids=[f"line{b.line}" for b in SHELL if not b.exempt])
def test_shell_block_runs(block, tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep
               + os.environ.get("PATH", ""), MPLBACKEND="Agg")
    for command in block.code.splitlines():
        if not command.strip() or command.lstrip().startswith("#"):
            continue
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, (command, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, command


def test_the_python_api_block_is_self_contained():
    """The "ten lines" define every name they use (it once ended in a NameError)."""
    section = README.read_text(encoding="utf-8").split("\n## The Python API in ten lines\n")[1]
    (block,) = [b for b in PYTHON if b.code in section.split("\n## ")[0]]
    assert _output_of(block) is not None  # and its output is shown beside it
