"""Rule evaluate_model: full-trace prediction on the test set and the paper's metrics."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)
import torch

from neurodepth.core.job import rule_job
from neurodepth.learning.evaluate import evaluate_checkpoint

with rule_job(snakemake):
    torch.set_num_threads(snakemake.threads)
    evaluate_checkpoint(
        ckpt=snakemake.input.model,
        test_path=snakemake.input.test,
        evaluation_cfg=snakemake.params.evaluation,
        out_metrics=snakemake.output.metrics,
        out_predictions=snakemake.output.predictions,
        meta=snakemake.params.meta,
    )
