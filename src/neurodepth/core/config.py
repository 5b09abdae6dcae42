"""Config loading and validation with messages that name the offending key."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from neurodepth.core.errors import ConfigError
from neurodepth.core.provenance import config_hash

# The schema ships inside the package, so it is found whatever the working directory.
DEFAULT_SCHEMA = Path(__file__).with_name("config.schema.yaml")


def _key_path(error: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else "(top level)"


def describe_error(error: jsonschema.ValidationError) -> str:
    key = _key_path(error)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = (
            sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        )
        where = f"under '{key}'" if key != "(top level)" else "at the top level"
        return (
            f"unknown config key {', '.join(repr(e) for e in extra)} {where}; "
            f"allowed keys: {', '.join(allowed)}"
        )
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    return f"config key '{key}': {error.message}"


def validate_config(config: dict, schema_path=DEFAULT_SCHEMA) -> dict:
    """Raise ConfigError listing every problem, each naming its key; return the config."""
    schema_path = Path(schema_path)
    if not schema_path.exists():
        raise ConfigError(f"config schema not found: {schema_path}")
    schema = yaml.safe_load(schema_path.read_text())
    architectures = config.get("network", {}).get("architectures")
    if isinstance(architectures, dict):
        # YAML reads `7: {...}` with an int key; JSON schema keys are strings
        config["network"]["architectures"] = {str(k): v for k, v in architectures.items()}
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  - ".join(describe_error(e) for e in errors)
        raise ConfigError(f"invalid configuration:\n  - {lines}")
    _check_semantics(config)
    return config


def _check_semantics(config: dict) -> None:
    """Rules a JSON schema cannot express."""
    for variant in config["variants"]:
        if variant not in config["inputs"]:
            raise ConfigError(
                f"config key 'inputs.{variant}' is missing: variant '{variant}' is listed in "
                f"'variants' but has no input rates"
            )
    for name in ("exc_per_100ms", "inh_minus_exc", "gain_range"):
        for variant, rates in config["inputs"].items():
            if name in rates and rates[name][0] > rates[name][1]:
                raise ConfigError(
                    f"config key 'inputs.{variant}.{name}': lower bound {rates[name][0]} exceeds "
                    f"upper bound {rates[name][1]}"
                )
    sim = config["simulation"]
    if sim["duration_ms"] <= config["evaluation"]["drop_first_ms"]:
        raise ConfigError(
            "config key 'simulation.duration_ms' must exceed 'evaluation.drop_first_ms'"
        )
    if config["training"]["window_ms"] > sim["duration_ms"]:
        raise ConfigError("config key 'training.window_ms' exceeds 'simulation.duration_ms'")
    if config["training"]["min_window_end_ms"] > sim["duration_ms"]:
        raise ConfigError(
            "config key 'training.min_window_end_ms' exceeds 'simulation.duration_ms'"
        )
    for depth, arch in config["network"]["architectures"].items():
        if len(arch["kernels"]) != int(depth):
            raise ConfigError(
                f"config key 'network.architectures.{depth}.kernels' has {len(arch['kernels'])} "
                f"kernels for depth {depth}"
            )


def load_config(path, schema_path=DEFAULT_SCHEMA) -> dict:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} does not hold a mapping of keys")
    return validate_config(config, schema_path)


def simulation_hash(config: dict, variant: str) -> str:
    """Hash of everything that determines a variant's simulated data."""
    return config_hash(
        {
            "seed": config["seed"],
            "cell": config["cell"]["name"],
            "sha256": config["cell"]["morphology"]["sha256"],
            "variant": variant,
            "simulation": config["simulation"],
            "inputs": config["inputs"][variant],
        }
    )


def add_arguments(parser) -> None:
    parser.add_argument("configfile", help="config YAML to check")
    parser.add_argument("--schema", default=str(DEFAULT_SCHEMA), help="schema YAML")


def run(args) -> int:
    load_config(args.configfile, args.schema)
    print(f"{args.configfile}: valid")
    return 0
