# Simulation shards: each shard is one job that builds the cell once and runs N simulations.


rule simulate_shard:
    input:
        unpack(simulation_inputs),
    output:
        "results/shards/{cell}/{variant}/{split}/shard_{shard}.nc",
    log:
        "logs/simulate_shard/{cell}/{variant}/{split}/shard_{shard}.log",
    group:
        "simulation"
    conda:
        "../../envs/neuron.yaml"
    threads: 1
    resources:
        **resources_for("simulate"),
    params:
        cell_name=config["cell"]["name"],
        seed=config["seed"],
        simulation=config["simulation"],
        inputs=lambda wildcards: config["inputs"][wildcards.variant],
        config_hash=lambda wildcards: simulation_hash(config, wildcards.variant),
    script:
        "../../scripts/simulate_shard.py"
