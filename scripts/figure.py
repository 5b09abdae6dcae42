"""Rules figure_<name>: load already-computed files and draw one registered figure (PNG + PDF)."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.figures import FIGURES
from neurodepth.figures._common import save

with rule_job(snakemake):
    # Looked up inside rule_job: a figure from a config plugin is registered only once it loads.
    figure = FIGURES[snakemake.params.figure]
    save(figure.draw(**dict(snakemake.input.items())), snakemake.output.png)
