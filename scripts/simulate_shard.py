"""Rule simulate_shard: one process builds the cell once and runs the shard's simulations."""

from pathlib import Path

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.simulation.calibration import read_calibrated_scale
from neurodepth.simulation.simulate import ShardJob, run_shard

with rule_job(snakemake):
    mechanisms = snakemake.input.get("mechanisms")
    calibration = snakemake.input.get("calibration")  # only variants with a target_rate_hz
    variant = snakemake.wildcards.variant
    job = ShardJob(
        cell_name=snakemake.params.cell_name,
        variant=variant,
        split=snakemake.wildcards.split,
        shard=int(snakemake.wildcards.shard),
        seed=snakemake.params.seed,
        simulation_cfg=snakemake.params.simulation,
        inputs_cfg=snakemake.params.inputs,
        mechanisms_dir=Path(mechanisms).parent if mechanisms else None,
        morphology_path=snakemake.input.get("morphology"),
        config_hash=snakemake.params.config_hash,
        input_scale=read_calibrated_scale(calibration, variant) if calibration else None,
    )
    run_shard(job, snakemake.output[0])
