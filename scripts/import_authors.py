"""Rule import_authors: one of the authors' pickles written as a shard of our dataset format."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.data.authors_data import import_authors_file

with rule_job(snakemake):
    import_authors_file(
        snakemake.input[0],
        snakemake.output[0],
        cell=snakemake.wildcards.cell,
        variant=snakemake.wildcards.variant,
        split=snakemake.wildcards.split,
        shard=int(snakemake.wildcards.shard),
        duration_ms=snakemake.params.duration_ms,
        include_dendritic=snakemake.params.include_dendritic,
    )
