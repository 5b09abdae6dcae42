"""Rule compile_mechanisms: compile the cell's NMODL (neurodepth's own, or the modeller's with
neurodepth's synapses) once for the whole run."""

from pathlib import Path

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.cells.mechanisms_build import compile_mechanisms, mechanism_sources
from neurodepth.cells.spec import load_cell_spec
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    spec = load_cell_spec(snakemake.params.cell_name)
    compile_mechanisms(Path(snakemake.output[0]).parent, mechanism_sources(spec))
