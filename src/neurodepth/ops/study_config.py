"""A study's config, validated with what is registered: the ``neurodepth check-config`` command.

``neurodepth.core.config`` checks a config against the schema but cannot know the registered cell
variants or network families (core sits below the layers that define them). This module, in the
top layer, loads the config's plugins first, so a variant a plugin registers is as valid as a
built-in one, and then passes the registered names to the schema's ``registry`` keyword.
"""

from __future__ import annotations

from pathlib import Path

from neurodepth.core.config import read_config_file, validate_config
from neurodepth.core.registry import load_plugins


def registered_names() -> dict[str, list[str]]:
    """Registry name used in the schema -> the names registered there now."""
    # imported here, not at the top: the learning layer's package may pull in torch, which
    # only validation needs to pay for, and only once
    from neurodepth.cells.variants import VARIANTS
    from neurodepth.learning.networks import FAMILIES

    return {"variants": VARIANTS.names(), "network_families": FAMILIES.names()}


def validate_study_config(config: dict, base_dir: Path | str = ".") -> dict:
    """Load ``config``'s plugins (``.py`` paths relative to ``base_dir``), then complete and
    validate it in place against the schema and the registries; ConfigError names the key."""
    plugins = config.get("plugins") if isinstance(config, dict) else None
    if isinstance(plugins, list) and all(isinstance(p, str) for p in plugins):
        # a malformed 'plugins' is left to the schema, which names the key
        load_plugins(plugins, base_dir)
    validate_config(config, registered_names())
    _check_family_options(config)
    _check_dendritic_targets(config)
    return config


def _check_dendritic_targets(config: dict) -> None:
    """A dendritic target needs recorded dendrites, on a cell that has them."""
    from neurodepth.cells.variants import VARIANTS
    from neurodepth.core.errors import ConfigError

    for variant in config["training"]["dendritic_components"]:
        key = f"config key 'training.dendritic_components.{variant}'"
        if variant not in config["variants"]:
            continue
        if not VARIANTS[variant].uses_neuron:
            raise ConfigError(f"{key}: {variant} is a point neuron; it has no dendrites")
        if not config["simulation"]["record_dendrites"]:
            raise ConfigError(
                f"{key}: a dendritic target needs the dendritic voltages: set "
                "simulation.record_dendrites: true"
            )


def _check_family_options(config: dict) -> None:
    """Each compared family's options are ones it declares, and it is not the depth sweep's."""
    from neurodepth.core.errors import ConfigError
    from neurodepth.learning.networks import FAMILIES

    for name, entry in config["families"].items():
        if name == config["network"]["family"]:
            raise ConfigError(
                f"config key 'families.{name}': {name} is the depth sweep's family "
                "(network.family), compared already; list other families here"
            )
        known = FAMILIES[name].options
        for key in entry["options"]:
            if key not in known:
                raise ConfigError(
                    f"config key 'families.{name}.options.{key}': {name} has no option {key!r} "
                    f"(its options: {', '.join(known) or 'none'})"
                )


def load_study_config(path, base_dir: Path | str = ".") -> dict:
    """A config file, completed with defaults and validated with the registries."""
    return validate_study_config(read_config_file(path), base_dir)


def add_arguments(parser) -> None:
    parser.add_argument("configfile", help="config YAML to check")


def run(args) -> int:
    load_study_config(args.configfile)
    print(f"{args.configfile}: valid")
    return 0
