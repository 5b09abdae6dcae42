"""What every rule's job does first: send its output to the log and load the config's plugins."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import neurodepth
from neurodepth.core.logs import log_to
from neurodepth.core.registry import load_plugins


@contextlib.contextmanager
def rule_job(snakemake):
    """``with rule_job(snakemake):`` around a rule script's body."""
    with log_to(snakemake.log[0]):
        # which checkout ran the job: a module deployment runs the workflow's own src/
        logging.getLogger("neurodepth").info(
            "neurodepth %s from %s", neurodepth.__version__, Path(neurodepth.__file__).parent
        )
        load_plugins(snakemake.config.get("plugins"), base_dir=".")
        yield
