# Score each network on the held-out test set with the paper's protocol.


rule evaluate_model:
    input:
        model="results/models/{cell}/{variant}/d{depth}_s{seed}/model.ckpt",
        test="results/datasets/{cell}/{variant}/test.nc",
    output:
        metrics="results/evaluation/{cell}/{variant}/d{depth}_s{seed}/metrics.csv",
        predictions="results/evaluation/{cell}/{variant}/d{depth}_s{seed}/predictions.nc",
    log:
        "logs/evaluate_model/{cell}/{variant}/d{depth}_s{seed}.log",
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
            "depth": int(wildcards.depth),
            "seed": int(wildcards.seed),
        },
    script:
        "../../scripts/evaluate_model.py"
