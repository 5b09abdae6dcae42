"""The cell-variant registry: what a variant is, in one entry.

Every consumer (the config schema's enum, the workflow's wildcard constraints, simulation, cost
estimates, figure labels and colours) reads this registry, so a new variant is one
``VARIANTS.register`` call, from neurodepth or from a user's plugin module (config key ``plugins``).
"""

from __future__ import annotations

from dataclasses import dataclass

from neurodepth.core.registry import Registry


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # legend text, e.g. "NMDA removed"
    short_label: str  # tick text, e.g. "no NMDA"
    color: str  # matplotlib colour
    uses_neuron: bool  # False: simulated without NEURON (no mechanisms, no morphology)


VARIANTS: Registry[Variant] = Registry("cell variant")
