"""Shared pytest fixtures: repository paths, the compiled NEURON mechanisms, the Hay morphology."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT / ".." / "shared"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """With ``REQUIRE_SLURM=1`` (CI), a cluster test that skips, for whatever reason, fails."""
    report = yield
    if (
        os.environ.get("REQUIRE_SLURM") == "1"
        and report.skipped
        and item.get_closest_marker("cluster") is not None
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"REQUIRE_SLURM=1 but the cluster test was skipped: {reason}"
    return report


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository; skips the test when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent")
    return SHARED.resolve()


@pytest.fixture(scope="session")
def mechanisms(tmp_path_factory) -> Path:
    """Compile our NMODL once per session (or reuse $NEURODEPTH_MECHANISMS) and load it."""
    from neurodepth.cells.mechanisms_build import compile_mechanisms, is_up_to_date, load_mechanisms

    pre = os.environ.get("NEURODEPTH_MECHANISMS")
    if pre:
        out = Path(pre)
        if not is_up_to_date(out):  # missing or compiled from older .mod sources
            compile_mechanisms(out)
    else:
        out = compile_mechanisms(tmp_path_factory.mktemp("mechanisms"))
    load_mechanisms(out)
    return out


@pytest.fixture(scope="session")
def hay_morphology_path() -> Path:
    """``../shared/data/hay2011/cell1.asc``; skips the test when it is absent."""
    path = SHARED / "data" / "hay2011" / "cell1.asc"
    if not path.exists():
        pytest.skip(f"Hay morphology {path} is absent")
    return path.resolve()


@pytest.fixture(scope="session")
def hay_segments_csv() -> Path:
    """The per-segment reference table derived from the original model in NEURON 9."""
    path = SHARED / "data" / "hay2011" / "segments_derived_neuron9.csv"
    if not path.exists():
        pytest.skip(f"Hay segment table {path} is absent")
    return path.resolve()


@pytest.fixture(scope="session")
def tiny_local_run(tmp_path_factory):
    """The tiny config run locally once per session (``snakemake --cores 2``), every stage real.

    Shared by the end-to-end tests.
    """
    import time

    from workflow_helpers import copy_workflow

    workflow = copy_workflow(tmp_path_factory.mktemp("tiny_local_run"))
    start = time.monotonic()
    workflow.run("--cores", "2")
    workflow.seconds = time.monotonic() - start
    return workflow
