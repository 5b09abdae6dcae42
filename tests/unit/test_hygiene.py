"""The tree is lint-clean and formatted: ruff for Python, snakefmt for the workflow.

The same commands as `make lint`, run from the repository root with the versions the `test`
extra pins, so CI fails on a finding that a contributor's `make lint` would show.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def tool(name: str) -> list[str]:
    # the venv's entry point beside the interpreter, so the pinned version runs, not one on PATH
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return [found]


CHECKS = {
    "ruff check": (["ruff"], ["check", "."]),
    "ruff format": (["ruff"], ["format", "--check", "."]),
    "snakefmt": (["snakefmt"], ["--check", "Snakefile", "workflow/"]),
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_tree_passes(check):
    (name,), args = CHECKS[check]
    cmd = [*tool(name), *args]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"`{' '.join([name, *args])}` failed (exit {result.returncode}):\n"
        f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
