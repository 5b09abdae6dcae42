"""Rule select_model: copy the architecture candidate with the best validation criterion."""

import re
from pathlib import Path

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.learning.selection import select_candidate

with rule_job(snakemake):
    dirs = [Path(p).parent for p in snakemake.input.models]
    # the candidate's index is its directory's name, c{index}
    candidates = {int(re.fullmatch(r"c(\d+)", d.name).group(1)): d for d in dirs}
    select_candidate(candidates, snakemake.params.out_dir)
