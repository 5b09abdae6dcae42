# Other network families (config key families: ELM, GRU, a plugin's) trained beside the depth
# sweep on the same data, seeds, training and evaluation, each over its own sizes; then every
# family's accuracy against its parameters and MACs per ms (compare_families).


rule train_family:
    input:
        unpack(training_inputs),
    output:
        model="results/models/{cell}/{variant}/{family}/n{size}_s{seed}/model.ckpt",
        log_csv="results/models/{cell}/{variant}/{family}/n{size}_s{seed}/training_log.csv",
        summary="results/models/{cell}/{variant}/{family}/n{size}_s{seed}/training_summary.json",
    log:
        "logs/train_family/{cell}/{variant}/{family}/n{size}_s{seed}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **resources_for("train"),
    params:
        architecture=family_architecture,
        family="{family}",
        training=config["training"],
        out_dir=subpath(output.model, parent=True),
    script:
        "../../scripts/train_model.py"


rule evaluate_family:
    input:
        model="results/models/{cell}/{variant}/{family}/n{size}_s{seed}/model.ckpt",
        test="results/datasets/{cell}/{variant}/test.nc",
    output:
        metrics="results/evaluation/{cell}/{variant}/{family}/n{size}_s{seed}/metrics.csv",
        predictions="results/evaluation/{cell}/{variant}/{family}/n{size}_s{seed}/predictions.nc",
    log:
        "logs/evaluate_family/{cell}/{variant}/{family}/n{size}_s{seed}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **resources_for("evaluate"),
    params:
        evaluation=config["evaluation"],
        meta=lambda wildcards: {
            "cell": wildcards.cell,
            "variant": wildcards.variant,
            "depth": int(wildcards.size),
            "seed": int(wildcards.seed),
        },
    script:
        "../../scripts/evaluate_model.py"


rule compare_families:
    input:
        metrics=network_paths(
            "results/evaluation/{cell}/{variant}/d{depth}_s{seed}/metrics.csv"
        )
        + family_network_paths(
            "results/evaluation/{cell}/{variant}/{family}/n{size}_s{seed}/metrics.csv"
        ),
        baseline=variant_paths(
            "results/evaluation/{cell}/{variant}/baseline/metrics.csv"
        ),
    output:
        comparison=report(
            "results/summary/family_comparison.csv",
            caption="../report/family_comparison.rst",
            category="Tables",
        ),
        smallest=report(
            "results/summary/smallest_models.csv",
            caption="../report/smallest_models.rst",
            category="Tables",
        ),
    log:
        "logs/compare_families.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        summary=config["summary"],
    script:
        "../../scripts/compare_families.py"
