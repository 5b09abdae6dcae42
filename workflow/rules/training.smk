# One network per (variant, depth, seed); a rerun after a kill resumes from last.ckpt.


rule train_model:
    input:
        train="results/datasets/{cell}/{variant}/train.nc",
        valid="results/datasets/{cell}/{variant}/valid.nc",
    output:
        model="results/models/{cell}/{variant}/d{depth}_s{seed}/model.ckpt",
        log_csv="results/models/{cell}/{variant}/d{depth}_s{seed}/training_log.csv",
    log:
        "logs/train_model/{cell}/{variant}/d{depth}_s{seed}.log",
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
