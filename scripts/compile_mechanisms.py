"""Rule compile_mechanisms: compile neurodepth's NMODL once for the whole run."""

from pathlib import Path

from neurodepth.cells.mechanisms_build import compile_mechanisms
from neurodepth.core.logs import log_to

with log_to(snakemake.log[0]):
    compile_mechanisms(Path(snakemake.output[0]).parent)
