# Figures: one rule per figure, each a file target that reads only already-computed files.


rule figure_accuracy_vs_depth:
    input:
        summary_metrics="results/summary/metrics.csv",
        depth_needed="results/summary/depth_needed.csv",
    output:
        png=report(
            "results/figures/accuracy_vs_depth.png",
            caption="../report/accuracy_vs_depth.rst",
            category="Accuracy against depth",
        ),
        pdf="results/figures/accuracy_vs_depth.pdf",
    log:
        "logs/figures/accuracy_vs_depth.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        figure="accuracy_vs_depth",
    script:
        "../../scripts/figure.py"


rule figure_example_predictions:
    input:
        dataset=f"results/datasets/{CELL}/{MAIN_VARIANT}/test.nc",
        predictions=network_paths(
            "results/evaluation/{cell}/{variant}/d{depth}_s{seed}/predictions.nc",
            [MAIN_VARIANT],
        ),
    output:
        png=report(
            "results/figures/example_predictions.png",
            caption="../report/example_predictions.rst",
            category="Predictions",
        ),
        pdf="results/figures/example_predictions.pdf",
    log:
        "logs/figures/example_predictions.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        figure="example_predictions",
    script:
        "../../scripts/figure.py"


rule figure_roc_timing:
    input:
        predictions=network_paths(
            "results/evaluation/{cell}/{variant}/d{depth}_s{seed}/predictions.nc"
        ),
    output:
        png=report(
            "results/figures/roc_timing.png",
            caption="../report/roc_timing.rst",
            category="Predictions",
        ),
        pdf="results/figures/roc_timing.pdf",
    log:
        "logs/figures/roc_timing.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        figure="roc_timing",
    script:
        "../../scripts/figure.py"


rule figure_first_layer_weights:
    input:
        checkpoints=network_paths(
            "results/models/{cell}/{variant}/d{depth}_s{seed}/model.ckpt",
            [MAIN_VARIANT],
        ),
        dataset=f"results/datasets/{CELL}/{MAIN_VARIANT}/test.nc",
        summary_metrics="results/summary/metrics.csv",
    output:
        png=report(
            "results/figures/first_layer_weights.png",
            caption="../report/first_layer_weights.rst",
            category="Learned filters",
        ),
        pdf="results/figures/first_layer_weights.pdf",
    log:
        "logs/figures/first_layer_weights.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        figure="first_layer_weights",
    script:
        "../../scripts/figure.py"


rule figure_cell_morphology:
    input:
        dataset=f"results/datasets/{CELL}/{MAIN_VARIANT}/test.nc",
        checkpoint=best_checkpoint_guess(MAIN_VARIANT),
    output:
        png=report(
            "results/figures/cell_morphology.png",
            caption="../report/cell_morphology.rst",
            category="Cell and data",
        ),
        pdf="results/figures/cell_morphology.pdf",
    log:
        "logs/figures/cell_morphology.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        figure="cell_morphology",
    script:
        "../../scripts/figure.py"


rule figure_dataset_overview:
    input:
        datasets=dataset_paths("train"),
    output:
        png=report(
            "results/figures/dataset_overview.png",
            caption="../report/dataset_overview.rst",
            category="Cell and data",
        ),
        pdf="results/figures/dataset_overview.pdf",
    log:
        "logs/figures/dataset_overview.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        figure="dataset_overview",
    script:
        "../../scripts/figure.py"


if "lif" in VARIANTS:

    rule figure_lif_check:
        input:
            predictions=f"results/evaluation/{CELL}/lif/d{min(DEPTHS)}_s{SEEDS[0]}/predictions.nc",
            checkpoint=f"results/models/{CELL}/lif/d{min(DEPTHS)}_s{SEEDS[0]}/model.ckpt",
            dataset=f"results/datasets/{CELL}/lif/test.nc",
        output:
            png=report(
                "results/figures/lif_check.png",
                caption="../report/lif_check.rst",
                category="Integrate-and-fire check",
            ),
            pdf="results/figures/lif_check.pdf",
        log:
            "logs/figures/lif_check.log",
        localrule: True
        conda:
            "../../envs/plot.yaml"
        params:
            figure="lif_check",
        script:
            "../../scripts/figure.py"
