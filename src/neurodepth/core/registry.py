"""Registries: one per concept a user extends (cell variants, network families, figures).

A registry maps a name to an entry. Built-in entries register themselves when their module is
imported; a user's entries live in plugin modules named by the config key ``plugins`` (a dotted
module name or the path of a ``.py`` file), which :func:`load_plugins` imports in every process
that reads the config (the workflow at start-up and each rule's job), so adding a variant or a
network family is one ``register`` call and no edit to neurodepth.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Generic, TypeVar

from neurodepth.core.errors import ConfigError

Entry = TypeVar("Entry")


class Registry(Generic[Entry]):
    """Named entries of one concept, in registration order."""

    def __init__(self, concept: str):
        self.concept = concept
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, entry: Entry) -> Entry:
        if name in self._entries and self._entries[name] is not entry:
            raise ConfigError(f"{self.concept} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(
                f"unknown {self.concept} {name!r}; registered: {', '.join(self._entries)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self):
        return self._entries.items()


def load_plugins(plugins: list[str] | None, base_dir: Path | str | None = None) -> None:
    """Import each plugin once; a ``.py`` path is resolved against ``base_dir`` when relative."""
    for plugin in plugins or []:
        if plugin.endswith(".py"):
            path = Path(plugin)
            if not path.is_absolute() and base_dir is not None:
                path = Path(base_dir) / path
            name = f"neurodepth_plugin_{path.stem}"
            if name in sys.modules:
                continue
            if not path.is_file():
                raise ConfigError(f"config key 'plugins': no plugin file {path}")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as err:
                del sys.modules[name]
                raise ConfigError(f"config key 'plugins': {path} failed to load: {err}") from err
        else:
            try:
                importlib.import_module(plugin)
            except ImportError as err:
                raise ConfigError(f"config key 'plugins': cannot import {plugin!r}: {err}") from err
