"""Rule merge_dataset: validate the shards of one split and merge them into one dataset."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.data.shards import merge_shards

with rule_job(snakemake):
    merge_shards(list(snakemake.input), snakemake.output[0])
