# One network per (variant, depth, seed, architecture candidate); a rerun after a kill resumes
# from its last.ckpt. Then per (variant, depth, seed) the candidate with the best validation
# criterion is copied to d{depth}_s{seed}/, the one path evaluation, summary and figures read.


rule train_model:
    input:
        unpack(training_inputs),
    output:
        model="results/models/{cell}/{variant}/d{depth}_s{seed}/c{candidate}/model.ckpt",
        log_csv="results/models/{cell}/{variant}/d{depth}_s{seed}/c{candidate}/training_log.csv",
        summary="results/models/{cell}/{variant}/d{depth}_s{seed}/c{candidate}/training_summary.json",
    log:
        "logs/train_model/{cell}/{variant}/d{depth}_s{seed}_c{candidate}.log",
    wildcard_constraints:
        candidate=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        **resources_for("train"),
    params:
        architecture=architecture,
        family=config["network"]["family"],
        training=config["training"],
        out_dir=subpath(output.model, parent=True),
    script:
        "../../scripts/train_model.py"


rule select_model:
    input:
        models=candidate_paths,
    output:
        model="results/models/{cell}/{variant}/d{depth}_s{seed}/model.ckpt",
        log_csv="results/models/{cell}/{variant}/d{depth}_s{seed}/training_log.csv",
        summary="results/models/{cell}/{variant}/d{depth}_s{seed}/training_summary.json",
        selection="results/models/{cell}/{variant}/d{depth}_s{seed}/selection.json",
    log:
        "logs/select_model/{cell}/{variant}/d{depth}_s{seed}.log",
    localrule: True
    conda:
        "../../envs/torch.yaml"
    params:
        out_dir=subpath(output.model, parent=True),
    script:
        "../../scripts/select_model.py"
