"""What every rule's job does first: send its output to the log and load the config's plugins."""

from __future__ import annotations

import contextlib

from neurodepth.core.logs import log_to
from neurodepth.core.registry import load_plugins


@contextlib.contextmanager
def rule_job(snakemake):
    """``with rule_job(snakemake):`` around a rule script's body."""
    with log_to(snakemake.log[0]):
        load_plugins(snakemake.config.get("plugins"), base_dir=".")
        yield
