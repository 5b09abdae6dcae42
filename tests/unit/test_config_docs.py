"""config/README.md is written from the config schema's descriptions and unchanged in the tree."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from neurodepth.core.config import load_schema
from neurodepth.core.errors import NeurodepthError
from neurodepth.ops.cli import main
from neurodepth.ops.config_docs import render

REPO = Path(__file__).resolve().parents[2]


def test_config_readme_is_what_the_schema_writes():
    assert (REPO / "config" / "README.md").read_text() == render(), (
        "run `neurodepth config-docs` and commit config/README.md"
    )


def test_every_key_group_has_a_section_with_its_description_and_keys():
    schema, text = load_schema(), render()
    sections = {part.split("`", 1)[0]: part for part in text.split("\n## `")[1:]}
    assert list(sections) == list(schema["properties"])
    for group, sub in schema["properties"].items():
        assert " ".join(sub["description"].split()) in sections[group]
        rows = {r.split("`")[1]: r for r in sections[group].splitlines() if r.startswith("| `")}
        for key, leaf in sub.get("properties", {}).items():
            expected = f"`{json.dumps(leaf['default'])}`" if "default" in leaf else "required"
            assert rows[f"{group}.{key}"].split(" | ")[2] == expected


def test_defaults_and_required_keys_are_shown():
    text = render()
    assert "| `training.batch_size` | integer | `8` |" in text
    assert "| `simulation.duration_ms` | integer | required |" in text
    assert '| `simulation.integrator` | `"fixed"` \\| `"cvode"` |' in text


def test_a_key_group_without_description_is_refused():
    schema = copy.deepcopy(load_schema())
    del schema["properties"]["training"]["description"]
    with pytest.raises(NeurodepthError, match="'training' has no description"):
        render(schema)


def test_check_fails_on_a_stale_page_until_it_is_rewritten(tmp_path, capsys):
    page = tmp_path / "README.md"
    page.write_text("# Configuration\n")
    assert main(["config-docs", "--check", "--output", str(page)]) == 1
    assert page.read_text() == "# Configuration\n"
    assert main(["config-docs", "--output", str(page)]) == 0
    assert page.read_text() == render()
    assert main(["config-docs", "--check", "--output", str(page)]) == 0
