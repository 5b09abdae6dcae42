"""Config validation: the schema holds every key and default, every bad input names its key, and
the shipped configs are valid."""

from __future__ import annotations

import copy
import json
import re
import sys

import pytest
import yaml
from snakemake.cli import parse_config
from snakemake.utils import update_config

from neurodepth.cells.variants import VARIANTS
from neurodepth.core.config import (
    load_config,
    load_schema,
    section_defaults,
    simulation_hash,
    validate_config,
)
from neurodepth.core.errors import ConfigError
from neurodepth.ops.cli import main
from neurodepth.ops.study_config import load_study_config, validate_study_config

REPO_CONFIGS = [
    "config/config.yaml",
    "config/paper.yaml",
    "config/study.yaml",
    "config/families.yaml",
    "tests/e2e/tiny_config.yaml",
]
# core cannot see the registries; these stand in for the names the ops layer passes
ENUMS = {"variants": ["full", "no_nmda", "no_branching", "lif"], "network_families": ["tcn"]}


@pytest.fixture()
def default(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


@pytest.fixture()
def own_variants(monkeypatch):
    """Registrations made by the test are undone afterwards."""
    monkeypatch.setattr(VARIANTS, "_entries", dict(VARIANTS._entries))
    return VARIANTS


def _error(config, enums=ENUMS) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, enums)
    return str(info.value)


@pytest.mark.parametrize("name", REPO_CONFIGS)
def test_shipped_configs_are_valid_with_the_registries(repo_root, name):
    config = load_study_config(repo_root / name)
    assert set(config["variants"]) <= set(config["inputs"])
    assert set(config["variants"]) <= set(VARIANTS.names())


def test_missing_optional_keys_get_the_schema_defaults(default):
    del default["summary"]
    del default["simulation"]["refine_hold_ms"]
    default["cell"]["morphology"] = {"path": "here.asc"}
    config = validate_config(default, ENUMS)
    assert config["summary"]["auc_margin"] == 0.01
    assert config["simulation"]["refine_hold_ms"] == 10
    assert config["simulation"]["dt_mid_ms"] == 0  # absent from config.yaml
    assert config["cell"]["morphology"] == {"path": "here.asc", "url": "", "sha256": ""}
    assert config["plugins"] == []
    # defaults reach objects behind a $ref, inside a map of them, and keep a value that is set
    assert config["inputs"]["full"]["jitter_ms"] == 20
    assert config["inputs"]["full"]["gain_range"] == [0.5, 1.5]
    assert config["inputs"]["full"]["exc_per_100ms"] == [0, 800]


def test_defaults_inside_array_items(monkeypatch, default):
    schema = copy.deepcopy(load_schema())
    schema["definitions"]["phase"]["properties"]["probe"] = {"type": "integer", "default": 5}
    monkeypatch.setattr("neurodepth.core.config.load_schema", lambda: schema)
    config = validate_config(default, ENUMS)
    assert all(phase["probe"] == 5 for phase in config["training"]["phases"])


def test_every_key_has_a_description_and_defaults_are_valid():
    schema = load_schema()

    def walk(node, where):
        for key, sub in node.get("properties", {}).items():
            assert "description" in sub or "$ref" in sub, f"{where}{key} has no description"
            walk(sub, f"{where}{key}.")

    for name in ("cell", "simulation", "summary"):
        walk(schema["properties"][name], f"{name}.")
    walk(schema["definitions"]["input_rates"], "inputs.*.")
    for name in ("cell", "simulation", "summary"):
        # a default the schema itself would reject is a bug in the schema
        assert isinstance(section_defaults(name), dict)


def test_section_defaults():
    sim = section_defaults("simulation")
    assert sim["integrator"] == "fixed" and sim["dt_fine_ms"] == 0 and sim["refine_hold_ms"] == 10
    assert "duration_ms" not in sim  # required, so no default
    assert section_defaults("summary")["auc_margin"] == 0.01
    assert section_defaults("simulation") is not section_defaults("simulation")
    with pytest.raises(ConfigError, match="'simulatoin'"):
        section_defaults("simulatoin")


def test_unknown_top_level_key_is_named(default):
    default["sead"] = 1
    message = _error(default)
    assert "'sead'" in message and "unknown config key" in message


def test_unknown_nested_key_is_named_with_its_parent(default):
    default["simulation"]["dt"] = 0.1
    message = _error(default)
    assert "'dt'" in message and "simulation" in message


def test_unknown_input_protocol_key_is_named(default):
    default["inputs"]["lif"]["jiter_ms"] = 3
    message = _error(default)
    assert "'jiter_ms'" in message and "inputs.lif" in message


def test_wrong_type_names_the_key(default):
    default["simulation"]["simulations_per_shard"] = "four"
    assert "simulation.simulations_per_shard" in _error(default)


def test_out_of_range_value_names_the_key(default):
    default["simulation"]["dt_ms"] = -0.025
    assert "simulation.dt_ms" in _error(default)


def test_unknown_variant_is_rejected(default):
    default["variants"] = ["full", "no_dendrites"]
    message = _error(default)
    assert "variants.1" in message and "'no_dendrites' is not registered" in message


def test_input_rates_for_an_unregistered_variant_are_rejected(default):
    default["inputs"]["no_dendrites"] = {"exc_per_100ms": [0, 1], "inh_minus_exc": [0, 1]}
    message = _error(default)
    assert "config key 'inputs'" in message and "'no_dendrites'" in message


def test_unknown_network_family_is_rejected(default):
    default["network"]["family"] = "transformer"
    assert "network.family" in _error(default)


def test_without_enums_core_checks_no_registry(default):
    default["variants"] = ["no_dendrites"]
    default["inputs"]["no_dendrites"] = {"exc_per_100ms": [0, 1], "inh_minus_exc": [0, 1]}
    validate_config(default)


def test_registered_variant_becomes_valid(default, own_variants, tmp_path, monkeypatch):
    default["variants"] = ["full", "test_plugin_variant"]
    default["inputs"]["test_plugin_variant"] = {"exc_per_100ms": [0, 1], "inh_minus_exc": [0, 1]}
    with pytest.raises(ConfigError, match=r"variants\.1.*'test_plugin_variant'"):
        validate_study_config(copy.deepcopy(default))
    plugin = tmp_path / "my_variant.py"
    plugin.write_text(
        "from neurodepth.cells.variants import VARIANTS\n"
        "VARIANTS.register('test_plugin_variant', object())\n"
    )
    monkeypatch.delitem(sys.modules, "neurodepth_plugin_my_variant", raising=False)
    default["plugins"] = ["my_variant.py"]
    config = validate_study_config(default, base_dir=tmp_path)
    assert config["inputs"]["test_plugin_variant"]["jitter_ms"] == 20
    assert "test_plugin_variant" in own_variants


def test_missing_rates_for_a_listed_variant(default):
    del default["inputs"]["no_nmda"]
    assert "inputs.no_nmda" in _error(default)


def test_inverted_range_is_rejected(default):
    default["inputs"]["full"]["exc_per_100ms"] = [800, 0]
    assert "inputs.full.exc_per_100ms" in _error(default)


def test_architecture_kernels_must_match_depth(default):
    default["network"]["architectures"] = {"3": {"kernels": [5, 5], "width": 8}}
    assert "network.architectures.3.kernels" in _error(default)


def _override(config: dict, *entries: str) -> dict:
    """What Snakemake does with `--config ENTRY ...` on top of a configfile."""
    update_config(config, parse_config(list(entries)))
    return config


def test_nested_command_line_overrides_are_read_as_the_schema_types(default):
    shards = dict(default["simulation"]["shards"])
    _override(
        default,
        'simulation={"duration_ms": 1500, "record_dendrites": true, "cvode_atol": 1e-4, '
        '"shards": {"train": 3}}',
        'network={"depths": [1, 2]}',
        'summary={"auc_margin": 0.02}',
    )
    assert default["simulation"]["duration_ms"] == "1500"  # Snakemake leaves strings
    config = validate_config(default, ENUMS)
    sim = config["simulation"]
    assert sim["duration_ms"] == 1500 and isinstance(sim["duration_ms"], int)
    assert sim["record_dendrites"] is True and sim["cvode_atol"] == 1e-4
    # merged into the configfile's section, not replacing it
    assert sim["shards"] == {**shards, "train": 3} and shards["train"] != 3
    assert sim["dt_ms"] == default["simulation"]["dt_ms"]
    assert config["network"]["depths"] == [1, 2] and config["summary"]["auc_margin"] == 0.02


def test_an_override_of_a_number_or_word_key_is_read_by_what_it_spells(default):
    """training.spike_bias_init is a number or the word training_rate: "-2" from the command
    line is the number, "training_rate" stays the word, and another word is still refused."""
    number = validate_config(_override(copy.deepcopy(default), 'training={"spike_bias_init": -2}'))
    assert number["training"]["spike_bias_init"] == -2 and not isinstance(
        number["training"]["spike_bias_init"], str
    )
    word = validate_config(
        _override(copy.deepcopy(default), 'training={"spike_bias_init": training_rate}')
    )
    assert word["training"]["spike_bias_init"] == "training_rate"
    _override(default, 'training={"spike_bias_init": rate}')
    assert "training.spike_bias_init" in _error(default)


def test_a_bad_override_still_names_its_key(default):
    _override(default, 'simulation={"duration_ms": 300}', 'training={"batch_size": "eight"}')
    message = _error(default)
    assert "'simulation.duration_ms': 300 is less than the minimum" in message
    assert "training.batch_size" in message
    assert "'300'" not in message  # read as a number, not left a string


def test_strings_stay_strings_where_the_schema_wants_them(default):
    _override(default, 'cell={"morphology": {"sha256": "", "path": "123"}}')
    assert validate_config(default, ENUMS)["cell"]["morphology"]["path"] == "123"


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)


def test_check_config_finds_the_schema_from_any_directory(repo_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check-config", str(repo_root / "config" / "config.yaml")]) == 0
    assert "valid" in capsys.readouterr().out
    bad = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())
    bad["simulation"]["dt"] = 0.1
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    assert main(["check-config", "bad.yaml"]) == 2
    assert "'dt'" in capsys.readouterr().err


def test_simulation_hash_changes_with_what_shapes_the_data(default):
    default = validate_config(default, ENUMS)
    base = simulation_hash(default, "full")
    assert base == simulation_hash(copy.deepcopy(default), "full")
    changed = copy.deepcopy(default)
    changed["simulation"]["dt_ms"] = 0.025
    assert simulation_hash(changed, "full") != base
    assert simulation_hash(default, "no_nmda") != base
    unrelated = copy.deepcopy(default)
    unrelated["network"]["depths"] = [1]
    assert simulation_hash(unrelated, "full") == base


@pytest.mark.slow
def test_snakemake_merges_and_types_a_nested_override(tmp_path):
    """A real `snakemake -n --config section='{...}'`: the rules see the configfile's section with
    the override merged in, typed, and completed with defaults."""
    from workflow_helpers import copy_workflow

    flow = copy_workflow(tmp_path / "flow")
    # a probe rule whose shell command (printed by -p in a dry run) carries what rules see
    (flow.root / "probe.smk").write_text(
        'import json\n\n\ninclude: "Snakefile"\n\n\n'
        "rule probe:\n"
        '    output: "probe.txt"\n'
        "    params: sim=lambda w: json.dumps(config['simulation'], sort_keys=True)\n"
        '    shell: "echo {params.sim:q} > {output}"\n'
    )
    override = 'simulation={"duration_ms": 1000, "shards": {"train": 1}}'
    plan = flow.run("-n", "--config", override)
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", plan.stdout, re.M)}
    tiny = yaml.safe_load((flow.root / "tiny_config.yaml").read_text())
    shards = 1 + tiny["simulation"]["shards"]["valid"] + tiny["simulation"]["shards"]["test"]
    assert counts["simulate_shard"] == shards * len(tiny["variants"])

    probe = flow.run("-s", "probe.smk", "-n", "-p", "probe.txt", "--config", override)
    sim = json.loads(re.search(r"echo '(.*)' > probe\.txt", probe.stdout)[1])
    assert sim["duration_ms"] == 1000 and sim["shards"]["train"] == 1
    # the configfile's other keys are kept
    assert sim["dt_ms"] == tiny["simulation"]["dt_ms"]
    assert sim["shards"]["valid"] == tiny["simulation"]["shards"]["valid"]
    assert sim["dt_mid_ms"] == 0  # a schema default (in neither config file)
