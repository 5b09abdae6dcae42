# With dataset.source authors: one job per authors' pickle writes it in our shard format, in
# place of simulate_shard. Then, whatever the source, each split's shards (or imported files)
# are merged into one self-describing netCDF dataset.


rule import_authors:
    input:
        authors_file,
    output:
        "results/imported/{cell}/{variant}/{split}/file_{shard}.nc",
    log:
        "logs/import_authors/{cell}/{variant}/{split}/file_{shard}.log",
    conda:
        "../../envs/base.yaml"
    threads: 1
    resources:
        # the whole pickle is unpickled (a release file: ~2 GB, 128 simulations with every
        # dendritic voltage), then converted: about three times the file in memory
        mem_mb=lambda wildcards, input, attempt: attempt
        * (1000 + 3 * int(input.size_mb)),
        runtime=lambda wildcards, attempt: 15 * attempt,
    params:
        duration_ms=config["simulation"]["duration_ms"],
        include_dendritic=config["simulation"]["record_dendrites"],
    script:
        "../../scripts/import_authors.py"


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


# The paper's auxiliary dendritic target (training.dendritic_components): a whitened PCA of the
# training split's dendritic voltages, fitted once per variant and stored beside its datasets.
rule fit_dendritic_pca:
    input:
        "results/datasets/{cell}/{variant}/train.nc",
    output:
        "results/datasets/{cell}/{variant}/dendritic_pca.nc",
    log:
        "logs/fit_dendritic_pca/{cell}/{variant}.log",
    conda:
        "../../envs/base.yaml"
    threads: 1
    params:
        components=lambda wildcards: config["training"]["dendritic_components"][
            wildcards.variant
        ],
    script:
        "../../scripts/fit_dendritic_pca.py"
