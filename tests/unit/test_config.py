"""Config validation: every bad input names its key; the shipped configs are valid."""

from __future__ import annotations

import copy

import pytest
import yaml

from neurodepth.core.config import DEFAULT_SCHEMA, load_config, simulation_hash, validate_config
from neurodepth.core.errors import ConfigError

REPO_CONFIGS = ["config/config.yaml", "config/paper.yaml", "tests/e2e/tiny_config.yaml"]


@pytest.fixture()
def schema(repo_root):
    return DEFAULT_SCHEMA


@pytest.fixture()
def default(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


@pytest.mark.parametrize("name", REPO_CONFIGS)
def test_shipped_configs_are_valid(repo_root, schema, name):
    path = repo_root / name
    if not path.exists():
        pytest.skip(f"{name} not present")
    config = load_config(path, schema)
    assert set(config["variants"]) <= set(config["inputs"])


def _error(config, schema) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, schema)
    return str(info.value)


def test_unknown_top_level_key_is_named(default, schema):
    default["sead"] = 1
    message = _error(default, schema)
    assert "'sead'" in message and "unknown config key" in message


def test_unknown_nested_key_is_named_with_its_parent(default, schema):
    default["simulation"]["dt"] = 0.1
    message = _error(default, schema)
    assert "'dt'" in message and "simulation" in message


def test_wrong_type_names_the_key(default, schema):
    default["simulation"]["simulations_per_shard"] = "four"
    assert "simulation.simulations_per_shard" in _error(default, schema)


def test_out_of_range_value_names_the_key(default, schema):
    default["simulation"]["dt_ms"] = -0.025
    assert "simulation.dt_ms" in _error(default, schema)


def test_unknown_variant_is_rejected(default, schema):
    default["variants"] = ["full", "no_dendrites"]
    assert "variants.1" in _error(default, schema)


def test_missing_rates_for_a_listed_variant(default, schema):
    del default["inputs"]["no_nmda"]
    assert "inputs.no_nmda" in _error(default, schema)


def test_inverted_range_is_rejected(default, schema):
    default["inputs"]["full"]["exc_per_100ms"] = [800, 0]
    assert "inputs.full.exc_per_100ms" in _error(default, schema)


def test_architecture_kernels_must_match_depth(default, schema):
    default["network"]["architectures"] = {"3": {"kernels": [5, 5], "width": 8}}
    assert "network.architectures.3.kernels" in _error(default, schema)


def test_missing_file_and_bad_yaml(tmp_path, schema):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml", schema)
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad, schema)


def test_simulation_hash_changes_with_what_shapes_the_data(default):
    base = simulation_hash(default, "full")
    assert base == simulation_hash(copy.deepcopy(default), "full")
    changed = copy.deepcopy(default)
    changed["simulation"]["dt_ms"] = 0.025
    assert simulation_hash(changed, "full") != base
    assert simulation_hash(default, "no_nmda") != base
    unrelated = copy.deepcopy(default)
    unrelated["network"]["depths"] = [1]
    assert simulation_hash(unrelated, "full") == base
