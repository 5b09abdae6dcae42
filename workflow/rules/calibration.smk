# Input-rate calibration: for each variant whose inputs set target_rate_hz, one job finds the
# scale of its rates that gives that output rate (short simulations on the same cell and
# protocol); the variant's shards take the scale as an input. Variants with explicit rates have
# no calibration job, and their shards are what they always were.

import math

from neurodepth.ops.cost import calibrated_variants, calibration_core_seconds


rule calibrate_inputs:
    input:
        # what building the cell needs: the shards' inputs less this rule's own output
        unpack(
            lambda wildcards: {
                key: path
                for key, path in simulation_inputs(wildcards).items()
                if key != "calibration"
            }
        ),
    output:
        "results/calibration/{cell}/{variant}.csv",
    log:
        "logs/calibrate_inputs/{cell}/{variant}.log",
    conda:
        "../../envs/neuron.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: resources_for("simulate")["mem_mb"](
            wildcards, attempt
        ),
        # the search's worst case (every evaluation run), with the shards' safety factor of 2
        runtime=lambda wildcards, attempt: attempt
        * (
            10
            + math.ceil(
                2
                * calibration_core_seconds(config, wildcards.variant, worst_case=True)
                / 60
            )
        ),
    params:
        cell_name=config["cell"]["name"],
        seed=config["seed"],
        simulation=config["simulation"],
        inputs=lambda wildcards: config["inputs"][wildcards.variant],
        calibration=config["calibration"],
    script:
        "../../scripts/calibrate_inputs.py"


rule calibration_table:
    input:
        expand(
            "results/calibration/{cell}/{variant}.csv",
            cell=CELL,
            variant=calibrated_variants(config),
        ),
    output:
        report(
            "results/calibration/calibration.csv",
            caption="../report/calibration.rst",
            category="Tables",
        ),
    log:
        "logs/calibration_table.log",
    localrule: True
    conda:
        "../../envs/neuron.yaml"  # merge_calibrations lives in neurodepth.simulation
    script:
        "../../scripts/calibration_table.py"
