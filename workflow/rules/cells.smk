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
        "resources/morphology/{cell}.{fmt}",
    log:
        "logs/fetch_morphology/{cell}.{fmt}.log",
    localrule: True
    conda:
        "../../envs/neuron.yaml"
    params:
        url=config["cell"]["morphology"]["url"],
        sha256=config["cell"]["morphology"]["sha256"],
        local_path=config["cell"]["morphology"]["path"],
    script:
        "../../scripts/fetch_morphology.py"
