# The study's comparison: metrics per (variant, depth) with spread, the depth each variant needs
# (beating the no-training baseline), its complexity (FCI), and the one best network per variant
# that every figure showing "the best network" reads.


rule summarize:
    input:
        metrics=network_paths(
            "results/evaluation/{cell}/{variant}/d{depth}_s{seed}/metrics.csv"
        ),
        baseline=variant_paths(
            "results/evaluation/{cell}/{variant}/baseline/metrics.csv"
        ),
    output:
        metrics=report(
            "results/summary/metrics.csv",
            caption="../report/summary_metrics.rst",
            category="Tables",
        ),
        depth_needed=report(
            "results/summary/depth_needed.csv",
            caption="../report/depth_needed.rst",
            category="Tables",
        ),
        best_networks="results/summary/best_networks.csv",
        baseline=report(
            "results/summary/baseline.csv",
            caption="../report/baseline.rst",
            category="Tables",
        ),
        table_csv="results/summary/results_table.csv",
        table_md="results/summary/results_table.md",
    log:
        "logs/summarize.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        summary=config["summary"],
        out_dir=subpath(output.metrics, parent=True),
    script:
        "../../scripts/summarize.py"


rule study_checks:
    input:
        metrics=network_paths(
            "results/evaluation/{cell}/{variant}/d{depth}_s{seed}/metrics.csv"
        ),
        summaries=network_paths(
            "results/models/{cell}/{variant}/d{depth}_s{seed}/training_summary.json"
        ),
        datasets=variant_paths(
            "results/datasets/{cell}/{variant}/{split}.nc", split=SPLITS
        ),
    output:
        networks="results/summary/network_checks.csv",
        variants=report(
            "results/summary/checks.csv",
            caption="../report/checks.rst",
            category="Tables",
        ),
    log:
        "logs/study_checks.log",
    localrule: True
    conda:
        "../../envs/base.yaml"
    params:
        targets={v: target_rate(v) for v in VARIANTS},
        rate_tolerance=config["summary"]["rate_tolerance"],
    script:
        "../../scripts/study_checks.py"
