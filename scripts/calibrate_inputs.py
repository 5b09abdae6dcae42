"""Rule calibrate_inputs: the input-rate scale that gives one variant its target output rate."""

from pathlib import Path

import _workflow_src  # noqa: F401  (neurodepth from this workflow's src/)

from neurodepth.core.job import rule_job
from neurodepth.simulation.calibration import run_calibration

with rule_job(snakemake):
    mechanisms = snakemake.input.get("mechanisms")
    run_calibration(
        snakemake.output[0],
        cell_label=snakemake.wildcards.cell,
        cell_name=snakemake.params.cell_name,
        variant=snakemake.wildcards.variant,
        seed=snakemake.params.seed,
        simulation_cfg=snakemake.params.simulation,
        inputs_cfg=snakemake.params.inputs,
        calibration_cfg=snakemake.params.calibration,
        mechanisms_dir=Path(mechanisms).parent if mechanisms else None,
        morphology_path=snakemake.input.get("morphology"),
    )
