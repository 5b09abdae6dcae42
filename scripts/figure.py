"""Rules figure_<name>: load already-computed files and draw one figure (PNG + PDF)."""

import importlib

from neurodepth.core.job import rule_job

with rule_job(snakemake):
    module = importlib.import_module(f"neurodepth.figures.{snakemake.params.figure}")
    figure = module.from_files(**dict(snakemake.input.items()))
    module.save(figure, snakemake.output.png)
