"""Rule summarize: tidy per-(variant, depth) metrics, the depth each variant needs (beating the
no-training baseline), its FCI and its best network."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.analysis.summary import summarize
from neurodepth.core.job import rule_job

with rule_job(snakemake):
    cfg = snakemake.params.summary
    summarize(
        list(snakemake.input.metrics),
        cfg["auc_margin"],
        snakemake.params.out_dir,
        n_boot=cfg["bootstrap"]["n"],
        baseline_paths=list(snakemake.input.baseline),
        baseline_margin=cfg["baseline"]["margin"],
        bootstrap_seed=cfg["bootstrap"]["seed"],
    )
