"""Rule compile_mechanisms: compile neurodepth's NMODL once for the whole run."""

from pathlib import Path

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.cells.mechanisms_build import compile_mechanisms
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    compile_mechanisms(Path(snakemake.output[0]).parent)
