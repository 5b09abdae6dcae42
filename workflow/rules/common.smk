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
# cell.name is a built-in spec name or the path of a user's spec YAML; the stem names results
CELL = Path(config["cell"]["name"]).stem
VARIANTS = config["variants"]
DEPTHS = config["network"]["depths"]
SEEDS = config["network"]["seeds"]
# Figures come from the figure registry (built-in ones and the config's plugins', loaded above).
from neurodepth.figures import FIGURES as FIGURE_REGISTRY, figures_for, input_paths

FIGURES = figures_for(VARIANTS)


wildcard_constraints:
    cell=r"[A-Za-z0-9_.-]+",
    variant="|".join(VARIANT_REGISTRY.names()),
    split="|".join(SPLITS),
    shard=r"\d{4}",
    depth=r"\d+",
    seed=r"\d+",


localrules:
    all,


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
    """A NEURON variant needs compiled mechanisms (and maybe a morphology); others need neither."""
    if not VARIANT_REGISTRY[wildcards.variant].uses_neuron:
        return {}
    inputs = {"mechanisms": "results/mechanisms/mechanisms.json"}
    if cell_needs_morphology():
        inputs["morphology"] = morphology_path()
    return inputs


def shard_paths(wildcards):
    n = config["simulation"]["shards"][wildcards.split]
    return [
        f"results/shards/{wildcards.cell}/{wildcards.variant}/{wildcards.split}/shard_{i:04d}.nc"
        for i in range(n)
    ]


def architecture(wildcards):
    from neurodepth.learning.networks import FAMILIES

    return FAMILIES[config["network"]["family"]].architecture(
        int(wildcards.depth), config["network"]
    )


def network_paths(pattern, variants=None):
    """One path per trained network (variant x depth x seed) of ``pattern``."""
    return expand(
        pattern,
        cell=CELL,
        variant=VARIANTS if variants is None else variants,
        depth=DEPTHS,
        seed=SEEDS,
    )


# Where each artefact a figure can read lives (neurodepth.figures.registry.ARTEFACTS).
ARTEFACT_PATHS = {
    "summary_metrics": "results/summary/metrics.csv",
    "depth_needed": "results/summary/depth_needed.csv",
    "best_networks": "results/summary/best_networks.csv",
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
    return [
        "results/summary/metrics.csv",
        "results/summary/depth_needed.csv",
        "results/summary/results_table.md",
    ] + expand("results/figures/{name}.png", name=FIGURES)


def resources_for(stage):
    """Per-rule resources (mem_mb, runtime in minutes, gpu when training on GPUs) that grow with each retry."""
    from neurodepth.ops import resources

    function = getattr(resources, f"{stage}_resources")
    return {
        key: (lambda wildcards, attempt, key=key: function(config, attempt)[key])
        for key in function(config, 1)
    }
