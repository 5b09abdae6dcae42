"""Rule study_checks: does each network beat the constant-rate predictor without memorising, and
does each variant fire at its target rate? (results/summary/checks.csv, network_checks.csv)"""

import re

from neurodepth.analysis.checks import study_checks
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    datasets = {}
    for path in snakemake.input.datasets:
        variant, split = re.search(r"/([^/]+)/([^/]+)\.nc$", path).groups()
        datasets[(variant, split)] = path
    study_checks(
        list(snakemake.input.metrics),
        list(snakemake.input.summaries),
        datasets,
        snakemake.params.targets,
        snakemake.params.max_bce_ratio,
        snakemake.params.rate_tolerance,
        snakemake.output.networks,
        snakemake.output.variants,
    )
