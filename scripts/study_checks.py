"""Rule study_checks: does each network beat the constant-rate predictor without memorising, and
does each variant fire at its target rate? (results/summary/checks.csv, network_checks.csv)"""

from pathlib import Path

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.analysis.checks import study_checks
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    # results/datasets/{cell}/{variant}/{split}.nc
    datasets = {(Path(p).parent.name, Path(p).stem): p for p in snakemake.input.datasets}
    study_checks(
        list(snakemake.input.metrics),
        list(snakemake.input.summaries),
        datasets,
        snakemake.params.targets,
        snakemake.params.rate_tolerance,
        snakemake.output.networks,
        snakemake.output.variants,
    )
