"""Rule summarize: tidy per-(variant, depth) metrics and the depth each variant needs."""

from neurodepth.analysis.summary import summarize
from neurodepth.core.logs import log_to

with log_to(snakemake.log[0]):
    summarize(list(snakemake.input.metrics), snakemake.params.margin, snakemake.params.out_dir)
