# Merge each split's shards into one self-describing netCDF dataset.


rule merge_dataset:
    input:
        shard_paths,
    output:
        "results/datasets/{cell}/{variant}/{split}.nc",
    log:
        "logs/merge_dataset/{cell}/{variant}/{split}.log",
    conda:
        "../../envs/base.yaml"
    threads: 1
    resources:
        **resources_for("merge"),
    script:
        "../../scripts/merge_dataset.py"
