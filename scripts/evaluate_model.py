"""Rule evaluate_model: full-trace prediction on the test set and the paper's metrics."""

import torch

from neurodepth.core.logs import log_to
from neurodepth.learning.evaluate import evaluate_checkpoint

with log_to(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    evaluate_checkpoint(
        ckpt=snakemake.input.model,
        test_path=snakemake.input.test,
        evaluation_cfg=snakemake.params.evaluation,
        out_metrics=snakemake.output.metrics,
        out_predictions=snakemake.output.predictions,
        meta=snakemake.params.meta,
    )
