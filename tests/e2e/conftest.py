"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def compiled_mechanisms(tmp_path_factory) -> Path:
    """Mechanisms compiled the way the pipeline does it, shared by every scratch workflow."""
    from neurodepth.cells.mechanisms_build import compile_mechanisms

    out = tmp_path_factory.mktemp("pipeline_mechanisms") / "mechanisms"
    compile_mechanisms(out)
    return out
