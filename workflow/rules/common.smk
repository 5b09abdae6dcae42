# Shared configuration checks, wildcard constraints and input functions.

import json
from pathlib import Path

from neurodepth.core.config import simulation_hash, validate_config
from neurodepth.core.errors import ConfigError

try:
    validate_config(config)
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

SPLITS = ["train", "valid", "test"]
# cell.name is a built-in spec name or the path of a user's spec YAML
CELL_SPEC_IS_FILE = config["cell"]["name"].endswith((".yaml", ".yml"))
CELL = (
    Path(config["cell"]["name"]).stem if CELL_SPEC_IS_FILE else config["cell"]["name"]
)
VARIANTS = config["variants"]
DEPTHS = config["network"]["depths"]
SEEDS = config["network"]["seeds"]
NEURON_VARIANTS = [v for v in VARIANTS if v != "lif"]
FIGURES = [
    "accuracy_vs_depth",
    "example_predictions",
    "roc_timing",
    "first_layer_weights",
    "cell_morphology",
    "dataset_overview",
]
if "lif" in VARIANTS:
    FIGURES.append("lif_check")
# the variant whose networks the single-variant figures show: the full cell when it is run
MAIN_VARIANT = "full" if "full" in VARIANTS else VARIANTS[0]


wildcard_constraints:
    cell=r"[A-Za-z0-9_.-]+",
    variant="|".join(["full", "no_nmda", "no_branching", "lif"]),
    split="|".join(SPLITS),
    shard=r"\d{4}",
    depth=r"\d+",
    seed=r"\d+",


localrules:
    all,


def _cell_morphology_entry():
    from neurodepth.cells.spec import SPEC_DIR

    name = config["cell"]["name"]
    path = Path(name) if CELL_SPEC_IS_FILE else SPEC_DIR / f"{name}.yaml"
    if not path.exists():
        raise WorkflowError(f"config key 'cell.name': no cell spec {path}")
    import yaml

    return (yaml.safe_load(path.read_text()) or {}).get("morphology", {})


def cell_needs_morphology():
    """A spec whose morphology is an external file without a path gets it from config.cell.morphology."""
    entry = _cell_morphology_entry()
    return entry.get("source") == "file" and not entry.get("path")


def morphology_path():
    return (
        f"resources/morphology/{CELL}.{_cell_morphology_entry().get('format', 'asc')}"
    )


def simulation_inputs(wildcards):
    """A NEURON variant needs compiled mechanisms (and maybe a morphology); the I&F cell needs neither."""
    if wildcards.variant == "lif":
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
    from neurodepth.learning.networks.tcn import architecture_for_depth

    return architecture_for_depth(int(wildcards.depth), config["network"])


def network_paths(pattern, variants=None):
    """One path per trained network (variant x depth x seed) of ``pattern``."""
    return expand(
        pattern,
        cell=CELL,
        variant=VARIANTS if variants is None else variants,
        depth=DEPTHS,
        seed=SEEDS,
    )


def best_checkpoint_guess(variant):
    """The deepest network of the first seed: its first layer colours the morphology figure."""
    return f"results/models/{CELL}/{variant}/d{max(DEPTHS)}_s{SEEDS[0]}/model.ckpt"


def dataset_paths(split):
    return expand(
        "results/datasets/{cell}/{variant}/{split}.nc",
        cell=CELL,
        variant=VARIANTS,
        split=split,
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
