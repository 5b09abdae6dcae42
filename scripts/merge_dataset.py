"""Rule merge_dataset: validate the shards of one split and merge them into one dataset."""

from neurodepth.core.logs import log_to
from neurodepth.data.shards import merge_shards

with log_to(snakemake.log[0]):
    merge_shards(list(snakemake.input), snakemake.output[0])
