# The no-training reference every depth must beat: excitatory and inhibitory input counts through
# a fitted exponential filter, read out by logistic (spike) and linear (soma) regression, fitted on
# the training split and scored on the test split exactly like a network (depth 0 in its table).


rule evaluate_baseline:
    input:
        train="results/datasets/{cell}/{variant}/train.nc",
        test="results/datasets/{cell}/{variant}/test.nc",
    output:
        metrics="results/evaluation/{cell}/{variant}/baseline/metrics.csv",
        predictions="results/evaluation/{cell}/{variant}/baseline/predictions.nc",
    log:
        "logs/evaluate_baseline/{cell}/{variant}.log",
    conda:
        "../../envs/torch.yaml"  # evaluate_arrays lives in neurodepth.learning (imports torch)
    threads: 1
    resources:
        **resources_for("evaluate"),
    params:
        evaluation=config["evaluation"],
        baseline=config["summary"]["baseline"],
        meta=lambda wildcards: {
            "cell": wildcards.cell,
            "variant": wildcards.variant,
            "depth": 0,
            "seed": 0,
        },
    script:
        "../../scripts/evaluate_baseline.py"
