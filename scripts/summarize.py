"""Rule summarize: tidy per-(variant, depth) metrics, the depth each variant needs and its best
network."""

from neurodepth.analysis.summary import summarize
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    summarize(list(snakemake.input.metrics), snakemake.params.margin, snakemake.params.out_dir)
