"""Rule evaluate_baseline: fit the no-training baseline on the training split, score it on the
test split with the networks' protocol (same metrics.csv and predictions.nc layout)."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.learning.evaluate import evaluate_baseline

with rule_job(snakemake):
    options = snakemake.params.baseline
    evaluate_baseline(
        snakemake.input.train,
        snakemake.input.test,
        snakemake.params.evaluation,
        options["tau_grid_ms"],
        snakemake.params.meta,
        snakemake.output.metrics,
        snakemake.output.predictions,
        max_train_simulations=options["max_train_simulations"],
    )
