"""Rule compare_families: every family's accuracy against its size, and the smallest model of
each family within the margin of the best of any family."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.analysis.families import write_family_comparison
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    cfg = snakemake.params.summary
    write_family_comparison(
        list(snakemake.input.metrics),
        snakemake.output.comparison,
        snakemake.output.smallest,
        cfg["auc_margin"],
        baseline_paths=list(snakemake.input.baseline),
        baseline_margin=cfg["baseline"]["margin"],
        n_boot=cfg["bootstrap"]["n"],
        bootstrap_seed=cfg["bootstrap"]["seed"],
    )
