"""``neurodepth config-docs``: write ``config/README.md``, every config key with its type, default
and description, from the config schema (``neurodepth/core/config.schema.yaml``), so the page
cannot drift from what the workflow validates."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from neurodepth.core.config import _resolve, load_schema
from neurodepth.core.errors import NeurodepthError

INTRO = """\
# Configuration

<!-- Written by `neurodepth config-docs` from src/neurodepth/core/config.schema.yaml; edit the
schema's descriptions, then rerun it, not this file. -->

The workflow reads `config/config.yaml` from the directory it runs in (your project, when you
deploy it as a module), or the file given with `--configfile`, which replaces it. Every key is
validated against the schema when the workflow starts: an unknown key or a bad value stops the
run naming the key. A key with a default may be left out. `config/config.yaml` is the embedded
default study; `config/study.yaml` and `config/paper.yaml` are larger ones.

Keys below are dotted paths; `<variant>` stands for a variant's name, `<family>` for a network
family's, `<depth>` for a depth, `[]` for each item of a list.
"""


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _type(schema: dict) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type", "")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds and isinstance(schema.get("items"), dict) and "type" in schema["items"]:
        return f"array of {schema['items']['type']}"
    return " or ".join(k for k in kinds if k)


def _default(schema: dict) -> str:
    return f"`{json.dumps(schema['default'])}`" if "default" in schema else "required"


def _rows(schema: dict, path: str, root: dict, required: bool) -> list[str]:
    """Table rows of ``path`` and every key below it."""
    schema = _resolve(schema, root)
    default = _default(schema) if "default" in schema or required else "optional"
    rows = [
        f"| `{path}` | {_type(schema)} | {default} | {_one_line(schema.get('description', ''))} |"
    ]
    needed = set(schema.get("required", ()))
    for key, sub in schema.get("properties", {}).items():
        rows += _rows(sub, f"{path}.{key}", root, key in needed)
    for pattern, sub in schema.get("patternProperties", {}).items():
        name = "<depth>" if pattern == "^[0-9]+$" else f"<{pattern}>"
        rows += _rows(sub, f"{path}.{name}", root, False)
    if isinstance(schema.get("additionalProperties"), dict):
        # named after the registry its keys come from (variants, network families)
        registry = schema.get("propertyNames", {}).get("registry", "variants")
        name = {"variants": "<variant>", "network_families": "<family>"}[registry]
        rows += _rows(schema["additionalProperties"], f"{path}.{name}", root, False)
    items = schema.get("items")
    if isinstance(items, dict) and _resolve(items, root).get("type") == "object":
        rows += _rows(items, f"{path}[]", root, False)
    return rows


def render(schema: dict | None = None) -> str:
    """The text of ``config/README.md``: one section per top-level key (a key group)."""
    schema = load_schema() if schema is None else schema
    needed = set(schema.get("required", ()))
    sections = [INTRO]
    for group, sub in schema["properties"].items():
        resolved = _resolve(sub, schema)
        if not resolved.get("description"):
            raise NeurodepthError(f"config schema: key group '{group}' has no description")
        rows = _rows(sub, group, schema, group in needed)
        # a group with keys below it: its own row would repeat the section's text
        table = ["| key | type | default | description |", "|---|---|---|---|"]
        table += rows[1:] if len(rows) > 1 else rows
        heading = f"## `{group}`\n\n{_one_line(resolved['description'])}\n\n"
        sections.append(heading + "\n".join(table))
    return "\n\n".join(sections) + "\n"


def add_arguments(parser) -> None:
    parser.add_argument("--output", default="config/README.md", help="where to write the page")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; fail if the page is out of date"
    )


def run(args) -> int:
    output = Path(args.output)
    text = render()
    if output.exists() and output.read_text() == text:
        return 0
    if args.check:
        print(f"{output} is out of date: run `neurodepth config-docs`", file=sys.stderr)
        return 1
    output.write_text(text)
    print(f"wrote {output}")
    return 0
