# The neuron model: our NMODL mechanisms, compiled once, and an external morphology if the cell needs one.


rule compile_mechanisms:
    output:
        "results/mechanisms/mechanisms.json",
    log:
        "logs/compile_mechanisms.log",
    conda:
        "../../envs/neuron.yaml"
    threads: 1
    script:
        "../../scripts/compile_mechanisms.py"


rule fetch_morphology:
    output:
        "resources/morphology/{cell}.asc",
    params:
        url=config["cell"]["morphology"]["url"],
        sha256=config["cell"]["morphology"]["sha256"],
        local_path=config["cell"]["morphology"]["path"],
    log:
        "logs/fetch_morphology/{cell}.log",
    conda:
        "../../envs/neuron.yaml"
    script:
        "../../scripts/fetch_morphology.py"
