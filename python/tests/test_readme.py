"""The README's Python section is real: every ```python block in it runs
as written (in a fresh directory), and its keyword table is the one the
shared option definition gives (`ACTMAP_UPDATE_README=1` rewrites it)."""

import os
import re
import runpy
import subprocess
import sys

import pytest

import actmap
from conftest import ROOT

README = os.path.join(ROOT, "README.md")
BEGIN, END = "<!-- keywords: generated from actmap::options -->", "<!-- /keywords -->"


def python_section():
    text = open(README, encoding="utf-8").read()
    start = text.index("\n## Python\n")
    end = text.find("\n## ", start + 10)
    return text[start:end if end > 0 else len(text)]


def python_blocks():
    return re.findall(r"```python\n(.*?)```", python_section(), re.S)


def keyword_table():
    rows = ["| keyword | CLI flag | TOML | meaning |", "|---|---|---|---|"]
    for name, flag, value, help, toml in actmap._actmap.options():
        cli = (f"`{flag} {value}`" if value else f"`{flag}`").replace("|", "\\|")
        toml = f"`{toml}`" if toml == name else (toml or "")
        help = " ".join(help.split()).replace("|", "\\|")
        rows.append(f"| `{name}` | {cli} | {toml} | {help} |")
    return "\n".join(rows)


def test_keyword_table_is_the_shared_definition():
    text = open(README, encoding="utf-8").read()
    table = keyword_table()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    if os.environ.get("ACTMAP_UPDATE_README"):
        text = text[:start] + "\n" + table + "\n" + text[end:]
        open(README, "w", encoding="utf-8").write(text)
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    assert text[start:end].strip() == table, "README keyword table is stale: rerun with ACTMAP_UPDATE_README=1"


def test_there_are_python_examples():
    assert len(python_blocks()) >= 5


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.parametrize("i", range(len(python_blocks())))
def test_readme_python_example_runs(i, workdir):
    """In order, in one directory (a later example may read what an earlier
    one wrote, as in a user's session), each in its own interpreter."""
    code = python_blocks()[i]
    script = workdir / f"example_{i}.py"
    script.write_text(code)
    p = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"README example {i} failed:\n{code}\n--- stderr:\n{p.stderr}"
