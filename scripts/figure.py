"""Rules figure_<name>: load already-computed files and draw one figure (PNG + PDF)."""

import importlib

from neurodepth.core.logs import log_to

with log_to(snakemake.log[0]):
    module = importlib.import_module(f"neurodepth.figures.{snakemake.params.figure}")
    figure = module.from_files(**dict(snakemake.input.items()))
    module.save(figure, snakemake.output.png)
