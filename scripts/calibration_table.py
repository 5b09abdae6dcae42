"""Rule calibration_table: the per-variant calibrations in one table for the report."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.simulation.calibration import merge_calibrations

with rule_job(snakemake):
    merge_calibrations(list(snakemake.input), snakemake.output[0])
