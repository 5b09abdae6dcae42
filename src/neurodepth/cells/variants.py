"""The cell-variant registry: what a variant is, in one entry.

Every consumer (the config schema's enum, the workflow's wildcard constraints, simulation, cost
estimates, figure labels and colours) reads this registry, so a new variant is one
``VARIANTS.register`` call, from neurodepth or from a user's plugin module (config key ``plugins``).

A variant is simulated one of two ways:

* ``uses_neuron=True``: ``build(spec) -> BuiltCell`` instantiates the cell in NEURON (mechanisms
  loaded by the caller); the simulation layer drives its synapses, one exc and one inh channel per
  dendritic segment, so its channel count follows from the cell.
* ``uses_neuron=False``: ``point_model`` simulates input arrays directly (numpy), on a fixed
  number of channels (``fixed_channels``), with no mechanisms and no morphology.

Hooks import NEURON and the builders when called, so importing this module (the workflow does at
start-up) never initialises NEURON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from neurodepth.cells.lif import N_EXC, N_INH, lif_segment_table, simulate_lif
from neurodepth.core.errors import ConfigError
from neurodepth.core.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from neurodepth.cells.builder import BuiltCell
    from neurodepth.cells.spec import CellSpec


@dataclass(frozen=True)
class PointModel:
    """A cell simulated without NEURON on ``n_exc + n_inh`` input channels (exc first)."""

    n_exc: int
    n_inh: int
    # inputs (channel, ms) bool -> (soma voltage at each ms in mV, output spike times in ms)
    simulate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    segment_table: Callable[[], pd.DataFrame]  # same columns as a NEURON cell's segment table
    integrator: str  # recorded as the shard's ``integrator`` attribute


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # legend text, e.g. "NMDA removed"
    short_label: str  # tick text, e.g. "no NMDA"
    color: str  # matplotlib colour
    uses_neuron: bool  # False: simulated without NEURON (no mechanisms, no morphology)
    build: Callable[[CellSpec], BuiltCell] | None = None  # NEURON variants
    point_model: PointModel | None = None  # non-NEURON variants
    tick_label: str = ""  # tick text where several variants share a narrow panel; "" = short_label

    def __post_init__(self):
        if self.uses_neuron and (self.build is None or self.point_model is not None):
            raise ConfigError(f"cell variant {self.name!r}: a NEURON variant needs build only")
        if not self.uses_neuron and (self.point_model is None or self.build is not None):
            raise ConfigError(f"cell variant {self.name!r}: a non-NEURON variant needs point_model")

    @property
    def fixed_channels(self) -> tuple[int, int] | None:
        """(n_exc, n_inh) of a cell whose inputs do not follow from a morphology; else None."""
        if self.point_model is None:
            return None
        return self.point_model.n_exc, self.point_model.n_inh

    @property
    def compact_label(self) -> str:
        return self.tick_label or self.short_label


VARIANTS: Registry[Variant] = Registry("cell variant")


def build_variant(spec: CellSpec, name: str) -> BuiltCell:
    """Instantiate variant ``name`` of ``spec`` in NEURON (mechanisms must be loaded)."""
    variant = VARIANTS[name]
    if not variant.uses_neuron:
        raise ConfigError(f"cell variant {name!r} is not simulated in NEURON; there is no cell")
    return variant.build(spec)


# --------------------------------------------------------------------------- built-in variants


def builder_with_synapses(synapses: str, name: str) -> Callable:
    """A ``build`` hook: the spec's cell with its excitatory synapse set ``synapses`` (a key of
    the spec's ``synapses.excitatory``), named ``name``; for plugins too."""

    def build(spec):
        from neurodepth.cells.builder import build_cell

        cell = build_cell(spec, synapses)
        cell.variant = name
        return cell

    return build


def _build_unbranched(spec):
    """Build the full cell (AMPA+NMDA synapses) and collapse each stem into a cylinder."""
    from neurodepth.cells.builder import build_cell
    from neurodepth.cells.reduce import reduce_cell

    full = build_cell(spec, "full")
    reduced, fits = reduce_cell(full)
    reduced.variant = "no_branching"
    reduced.reduction = fits
    return reduced


_LIF = PointModel(
    n_exc=N_EXC,
    n_inh=N_INH,
    simulate=partial(simulate_lif, n_exc=N_EXC),
    segment_table=lif_segment_table,
    integrator="lif_exact",
)

# Colours are seaborn's "colorblind" palette entries 0, 1, 2 and 7, written out so that the
# registry needs no plotting library.
for _variant in (
    Variant(
        "full",
        "full (NMDA + branching)",
        "full",
        "#0173b2",
        True,
        build=builder_with_synapses("full", "full"),
    ),
    Variant(
        "no_nmda",
        "NMDA removed",
        "no NMDA",
        "#de8f05",
        True,
        build=builder_with_synapses("no_nmda", "no_nmda"),
        tick_label="AMPA\nonly",
    ),
    Variant(
        "no_branching",
        "branching removed",
        "no branching",
        "#029e73",
        True,
        build=_build_unbranched,
        tick_label="un-\nbranched",
    ),
    Variant("lif", "integrate-and-fire", "I&F", "#949494", False, point_model=_LIF),
):
    VARIANTS.register(_variant.name, _variant)
del _variant
