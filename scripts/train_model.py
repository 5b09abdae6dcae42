"""Rule train_model: train one network (resuming from last.ckpt if a previous job was killed)."""

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)
import torch

from neurodepth.core.job import rule_job
from neurodepth.learning.train import train_model

with rule_job(snakemake):
    torch.set_num_threads(snakemake.threads)
    train_model(
        train_path=snakemake.input.train,
        valid_path=snakemake.input.valid,
        out_dir=snakemake.params.out_dir,
        architecture=snakemake.params.architecture,
        training_cfg=snakemake.params.training,
        seed=int(snakemake.wildcards.seed),
        family=snakemake.params.family,
        dendritic_pca_path=snakemake.input.get("dendritic_pca"),
    )
