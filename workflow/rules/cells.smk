# The neuron model: the cell's NMODL mechanisms (neurodepth's own, or a modeller's with neurodepth's
# synapses), compiled once per cell, and an external morphology if the cell needs one.


rule compile_mechanisms:
    output:
        "results/mechanisms/{cell}/mechanisms.json",
    log:
        "logs/compile_mechanisms/{cell}.log",
    conda:
        "../../envs/neuron.yaml"
    threads: 1
    params:
        cell_name=config["cell"]["name"],
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
