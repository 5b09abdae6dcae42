# Shared configuration checks, wildcard constraints and input functions.

from pathlib import Path

from neurodepth.cells.spec import load_cell_spec, spec_needs_morphology
from neurodepth.cells.variants import VARIANTS as VARIANT_REGISTRY
from neurodepth.core.config import simulation_hash
from neurodepth.core.errors import ConfigError
from neurodepth.ops.study_config import validate_study_config

# Completes `config` in place with the schema's defaults (rules read every key directly) after
# loading its plugins; relative plugin paths are taken from the working directory, as rule jobs do.
try:
    validate_study_config(config, base_dir=".")
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

SPLITS = ["train", "valid", "test"]
# simulation: shards simulated here; authors: the authors' pickles imported, nothing simulated
SOURCE = config["dataset"]["source"]
# cell.name is a built-in spec name or the path of a user's spec YAML; the stem names results
CELL = Path(config["cell"]["name"]).stem
VARIANTS = config["variants"]
DEPTHS = config["network"]["depths"]
SEEDS = config["network"]["seeds"]
# Figures come from the figure registry (built-in ones and the config's plugins', loaded above).
from neurodepth.figures import FIGURES as FIGURE_REGISTRY, figures_for, input_paths

FIGURES = figures_for(
    VARIANTS,
    compares_families=bool(config["families"]),
    # the authors' release records no segment coordinates
    segment_geometry=SOURCE == "simulation",
)


wildcard_constraints:
    cell=r"[A-Za-z0-9_.-]+",
    variant="|".join(VARIANT_REGISTRY.names()),
    split="|".join(SPLITS),
    shard=r"\d{4}",
    depth=r"\d+",
    seed=r"\d+",
    family="|".join(config["families"]) or "no-family",
    size=r"\d+",


def _cell_spec():
    try:
        return load_cell_spec(config["cell"]["name"])
    except ConfigError as exc:
        raise WorkflowError(f"config key 'cell.name': {exc}") from None


def cell_needs_morphology():
    """A spec whose morphology is an external file without a path gets it from config.cell.morphology."""
    _cell_spec()  # a missing or broken spec is reported as the config key's problem
    return spec_needs_morphology(config["cell"]["name"])


def morphology_path():
    return f"resources/morphology/{CELL}.{_cell_spec().morphology.get('format', 'asc')}"


def simulation_inputs(wildcards):
    """A NEURON variant needs compiled mechanisms (and maybe a morphology); others need neither.
    A variant with a target output rate also needs its calibrated input-rate scale."""
    inputs = {}
    if VARIANT_REGISTRY[wildcards.variant].uses_neuron:
        inputs["mechanisms"] = f"results/mechanisms/{wildcards.cell}/mechanisms.json"
        if cell_needs_morphology():
            inputs["morphology"] = morphology_path()
    if config["inputs"][wildcards.variant]["target_rate_hz"] is not None:
        inputs["calibration"] = (
            f"results/calibration/{wildcards.cell}/{wildcards.variant}.csv"
        )
    return inputs


def authors_split_files(variant, split):
    """The authors' pickles of one variant's split (config key dataset.authors), in name order."""
    from neurodepth.core.errors import DatasetError
    from neurodepth.data.authors_data import authors_files

    folder = config["dataset"]["authors"][variant][split]
    try:
        return authors_files(folder, config["dataset"]["pattern"])
    except DatasetError as exc:
        raise WorkflowError(
            f"config key 'dataset.authors.{variant}.{split}': {exc}"
        ) from None


def authors_file(wildcards):
    """The pickle that import job file_{shard} reads: the shard-th of its split folder."""
    files = authors_split_files(wildcards.variant, wildcards.split)
    index = int(wildcards.shard)
    if index >= len(files):
        raise WorkflowError(
            f"config key 'dataset.authors.{wildcards.variant}.{wildcards.split}': "
            f"{len(files)} files, no file {index}"
        )
    return files[index]


def training_inputs(wildcards):
    """The splits a network trains on, and the dendritic target's PCA when the variant has one
    (training.dendritic_components)."""
    folder = f"results/datasets/{wildcards.cell}/{wildcards.variant}"
    inputs = {"train": f"{folder}/train.nc", "valid": f"{folder}/valid.nc"}
    if wildcards.variant in config["training"]["dendritic_components"]:
        inputs["dendritic_pca"] = f"{folder}/dendritic_pca.nc"
    return inputs


def shard_paths(wildcards):
    """The parts merge_dataset joins: simulated shards, or one imported file per authors' pickle."""
    if SOURCE == "authors":
        n = len(authors_split_files(wildcards.variant, wildcards.split))
        pattern = "results/imported/{cell}/{variant}/{split}/file_{i:04d}.nc"
    else:
        n = config["simulation"]["shards"][wildcards.split]
        pattern = "results/shards/{cell}/{variant}/{split}/shard_{i:04d}.nc"
    return [pattern.format(**wildcards, i=i) for i in range(n)]


def target_rate(variant):
    """inputs.<variant>.target_rate_hz; None for the authors' data (nothing is calibrated)."""
    if SOURCE == "authors":
        return None
    return config["inputs"][variant]["target_rate_hz"]


def candidate_architectures(depth):
    """The distinct architecture candidates trained at one depth (network.candidates)."""
    from neurodepth.learning.networks import candidate_architectures as candidates

    return candidates(config["network"]["family"], int(depth), config["network"])


def architecture(wildcards):
    """The architecture of training job c{candidate} at d{depth}."""
    archs = candidate_architectures(wildcards.depth)
    index = int(wildcards.candidate)
    if index >= len(archs):
        raise WorkflowError(
            f"depth {wildcards.depth} has {len(archs)} distinct architecture candidates "
            f"(network.candidates), not {index + 1}"
        )
    return archs[index]


def candidate_paths(wildcards):
    """model.ckpt of every architecture candidate of one (variant, depth, seed)."""
    network = "results/models/{cell}/{variant}/d{depth}_s{seed}".format(**wildcards)
    n = len(candidate_architectures(wildcards.depth))
    return [f"{network}/c{index}/model.ckpt" for index in range(n)]


def network_paths(pattern, variants=None):
    """One path per trained network (variant x depth x seed) of ``pattern``."""
    return expand(
        pattern,
        cell=CELL,
        variant=VARIANTS if variants is None else variants,
        depth=DEPTHS,
        seed=SEEDS,
    )


def family_architecture(wildcards):
    """The architecture of family {family} at size {size} (config key families)."""
    from neurodepth.learning.networks import FAMILIES as FAMILY_REGISTRY

    return FAMILY_REGISTRY[wildcards.family].architecture(
        int(wildcards.size), config["families"][wildcards.family]["options"]
    )


def family_network_paths(pattern):
    """One path per network of the compared families (variant x family x size x seed)."""
    return [
        path
        for family, entry in config["families"].items()
        for path in expand(
            pattern,
            cell=CELL,
            variant=VARIANTS,
            family=family,
            size=entry["sizes"],
            seed=SEEDS,
        )
    ]


def variant_paths(pattern, variants=None, **wildcards):
    """One path per variant of ``pattern`` (e.g. the no-training baseline's files), times any
    further ``wildcards`` (e.g. split=SPLITS)."""
    return expand(
        pattern,
        cell=CELL,
        variant=VARIANTS if variants is None else variants,
        **wildcards,
    )


# Where each artefact a figure can read lives (neurodepth.figures.registry.ARTEFACTS).
ARTEFACT_PATHS = {
    "summary_metrics": "results/summary/metrics.csv",
    "depth_needed": "results/summary/depth_needed.csv",
    "best_networks": "results/summary/best_networks.csv",
    "baseline_summary": "results/summary/baseline.csv",
    "family_comparison": "results/summary/family_comparison.csv",
    "smallest_models": "results/summary/smallest_models.csv",
    "dataset": "results/datasets/{cell}/{variant}/{split}.nc",
    "predictions": "results/evaluation/{cell}/{variant}/d{depth}_s{seed}/predictions.nc",
    "checkpoint": "results/models/{cell}/{variant}/d{depth}_s{seed}/model.ckpt",
}


def figure_inputs(name):
    """The named inputs of figure <name>'s rule: its registered artefacts as this run's paths."""
    return input_paths(
        FIGURE_REGISTRY[name],
        ARTEFACT_PATHS,
        cell=CELL,
        variants=VARIANTS,
        depths=DEPTHS,
        seeds=SEEDS,
    )


def all_targets():
    # the calibration table is a report item of its own when any variant has a target rate
    calibrated = any(target_rate(v) is not None for v in VARIANTS)
    return (
        [
            "results/summary/metrics.csv",
            "results/summary/depth_needed.csv",
            "results/summary/results_table.md",
            "results/summary/baseline.csv",
            "results/summary/checks.csv",
        ]
        + (
            [
                "results/summary/family_comparison.csv",
                "results/summary/smallest_models.csv",
            ]
            if config["families"]
            else []
        )
        + expand("results/figures/{name}.png", name=FIGURES)
        + (["results/calibration/calibration.csv"] if calibrated else [])
    )


def resources_for(stage):
    """Per-rule resources (mem_mb, runtime in minutes, gpu when training on GPUs) that grow with each retry."""
    from neurodepth.ops import resources

    function = getattr(resources, f"{stage}_resources")
    return {
        key: (lambda wildcards, attempt, key=key: function(config, attempt)[key])
        for key in function(config, 1)
    }
