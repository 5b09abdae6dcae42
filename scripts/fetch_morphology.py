"""Rule fetch_morphology: download (or copy) the morphology and check its sha256."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.cells.morphology import fetch_morphology
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    fetch_morphology(
        url=snakemake.params.url,
        sha256=snakemake.params.sha256,
        local_path=snakemake.params.local_path or None,
        out_path=snakemake.output[0],
    )
