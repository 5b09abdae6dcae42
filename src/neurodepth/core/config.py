"""Config loading and validation with messages that name the offending key.

The schema (``config.schema.yaml`` beside this module) is the one place that lists the config's
keys and their defaults: :func:`validate_config` fills every missing key that has a ``default``
before validating, so code reads ``config[section][key]`` and never restates a default.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import jsonschema
import yaml

from neurodepth.core.errors import ConfigError
from neurodepth.core.provenance import config_hash

# The schema ships inside the package, so it is found whatever the working directory.
DEFAULT_SCHEMA = Path(__file__).with_name("config.schema.yaml")

# A schema keyword of ours: ``registry: NAME`` restricts a string to the names registered under
# NAME. core cannot import the registries (they live in higher layers), so the caller passes the
# names in; without them the keyword checks nothing.
REGISTRY_KEYWORD = "registry"

_COERCIBLE = {"integer", "number", "boolean", "array", "object", "null"}


@functools.cache
def load_schema() -> dict:
    if not DEFAULT_SCHEMA.exists():
        raise ConfigError(f"config schema not found: {DEFAULT_SCHEMA}")
    return yaml.safe_load(DEFAULT_SCHEMA.read_text())


def _resolve(schema: dict, root: dict) -> dict:
    """Follow local ``$ref`` pointers (``#/definitions/name``); keywords beside a ``$ref`` (a
    ``default``, a ``description``) win over the definition's."""
    if not isinstance(schema, dict):
        return {}
    if "$ref" not in schema:
        return schema
    node = root
    for part in schema["$ref"].removeprefix("#/").split("/"):
        node = node[part]
    siblings = {k: v for k, v in schema.items() if k != "$ref"}
    return {**_resolve(node, root), **siblings}


def _property_schema(schema: dict, key: str, root: dict) -> dict | None:
    """The schema that applies to ``key`` of an object validated by ``schema``."""
    if key in schema.get("properties", {}):
        return _resolve(schema["properties"][key], root)
    for pattern, sub in schema.get("patternProperties", {}).items():
        if re.search(pattern, key):
            return _resolve(sub, root)
    extra = schema.get("additionalProperties")
    return _resolve(extra, root) if isinstance(extra, dict) else None


def _types(schema: dict) -> set[str]:
    kind = schema.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def _matches(value, types: set[str]) -> bool:
    checks = {
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }
    return any(checks[t](value) for t in types if t in checks)


def _parse_string(text: str, types: set[str]):
    """``text`` read as YAML, as a value of one of ``types``; ``text`` itself when it is none."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and types & {"integer", "number"}:
        # YAML 1.1 reads "1e-3" as a string; a number is meant
        for convert in (int, float):
            try:
                value = convert(text)
                break
            except ValueError:
                pass
    return value if _matches(value, types) else text


def _fits_string_schema(text: str, schema: dict) -> bool:
    """Whether ``text`` satisfies the schema's own string constraints (pattern, enum)."""
    if "pattern" in schema and not re.search(schema["pattern"], text):
        return False
    return "enum" not in schema or text in schema["enum"]


def coerce_strings(value, schema: dict, root: dict | None = None):
    """Turn string leaves into the type the schema asks for.

    ``snakemake --config simulation='{"duration_ms": 300}'`` parses nested values with YAML's
    base loader, which leaves every leaf a string ("300"). A string is left alone where the schema
    accepts it as a string (its pattern and enum, if any, allow it), and wherever it does not read
    as the wanted type (the validator then names the key).
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    types = _types(schema)
    if isinstance(value, str) and types & _COERCIBLE:
        if "string" not in types:
            value = _parse_string(value, types)
        elif not _fits_string_schema(value, schema):
            # e.g. [number, string] with a pattern for the one word allowed: "-2" is the number
            value = _parse_string(value, types - {"string"})
    if isinstance(value, dict):
        for key in list(value):
            sub = _property_schema(schema, str(key), root)
            if sub is not None:
                value[key] = coerce_strings(value[key], sub, root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value[:] = [coerce_strings(item, schema["items"], root) for item in value]
    return value


def fill_defaults(value, schema: dict, root: dict | None = None):
    """Add every missing key that has a schema ``default``, recursively, in place.

    A missing object whose schema has a default (usually ``{}``) is created and then filled
    with its own keys' defaults. Objects inside arrays are filled from the item schema.
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            sub = _resolve(sub, root)
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key in list(value):
            sub = _property_schema(schema, str(key), root)
            if sub is not None:
                fill_defaults(value[key], sub, root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            fill_defaults(item, schema["items"], root)
    return value


def section_defaults(name: str) -> dict:
    """The defaults of one top-level section (e.g. "training"): every key that has one."""
    schema = load_schema()
    if name not in schema["properties"]:
        sections = ", ".join(schema["properties"])
        raise ConfigError(f"no config section {name!r}; sections: {sections}")
    return fill_defaults({}, schema["properties"][name], schema)


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
    return f"config key '{key}': {error.message}"


def _validator_class(enums: Mapping[str, Iterable[str]]):
    names = {registry: list(allowed) for registry, allowed in enums.items()}

    def registered(validator, registry, instance, schema):
        if registry in names and isinstance(instance, str) and instance not in names[registry]:
            yield jsonschema.ValidationError(
                f"{instance!r} is not registered (registered {registry}: "
                f"{', '.join(names[registry]) or 'none'}; a module listed under 'plugins' "
                "can register more)"
            )

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {REGISTRY_KEYWORD: registered}
    )


def validate_config(config: dict, enums: Mapping[str, Iterable[str]] | None = None) -> dict:
    """Complete ``config`` in place and check it; raise ConfigError listing every problem.

    In order: string leaves from ``--config`` overrides are read as the schema's types, missing
    keys get their schema defaults, then the schema and the cross-key rules are checked.
    ``enums`` maps a registry name used by the schema's ``registry`` keyword (e.g. "variants")
    to the names registered there; registries not given are not checked.
    """
    if not isinstance(config, dict):
        raise ConfigError("the config is not a mapping of keys")
    schema = load_schema()
    architectures = config.get("network", {}).get("architectures")
    if isinstance(architectures, dict):
        # YAML reads `7: {...}` with an int key; JSON schema keys are strings
        config["network"]["architectures"] = {str(k): v for k, v in architectures.items()}
    coerce_strings(config, schema)
    fill_defaults(config, schema)
    validator = _validator_class(enums or {})(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  - ".join(describe_error(e) for e in errors)
        raise ConfigError(f"invalid configuration:\n  - {lines}")
    _check_semantics(config)
    return config


def _check_semantics(config: dict) -> None:
    """Rules a JSON schema cannot express."""
    authors = config["dataset"]["source"] == "authors"
    for variant in config["variants"]:
        if authors and variant not in config["dataset"]["authors"]:
            raise ConfigError(
                f"config key 'dataset.authors.{variant}' is missing: variant '{variant}' is "
                "listed in 'variants' but has no folders of the authors' data (the release has "
                "'full' and 'no_nmda'; remove the variant or give its train/valid/test folders)"
            )
        if not authors and variant not in config["inputs"]:
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


def read_config_file(path) -> dict:
    """The mapping in a config YAML, unvalidated; ConfigError naming the file if there is none."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} does not hold a mapping of keys")
    return config


def load_config(path, enums: Mapping[str, Iterable[str]] | None = None) -> dict:
    """A config file, completed with defaults and validated (registries only if ``enums``)."""
    return validate_config(read_config_file(path), enums)


def simulation_hash(config: dict, variant: str) -> str:
    """Hash of everything that determines a variant's simulated data (the calibration settings
    too when the variant's input rates are calibrated to a target output rate)."""
    inputs = config["inputs"][variant]
    determinants = {
        "seed": config["seed"],
        "cell": config["cell"]["name"],
        "sha256": config["cell"]["morphology"]["sha256"],
        "variant": variant,
        "simulation": config["simulation"],
        "inputs": inputs,
    }
    if inputs.get("target_rate_hz") is not None:
        determinants["calibration"] = config["calibration"]
    return config_hash(determinants)
