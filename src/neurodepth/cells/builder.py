"""Build a NEURON cell from a ``CellSpec``: morphology, discretisation, biophysics, synapses.

``build_cell(spec, synapses)`` returns a ``BuiltCell`` (docs/design.md) whose excitatory synapses
are the spec's ``synapses.excitatory[synapses]`` set. Cell variants (``cells/variants.py``) are
built on top of it; the builder knows nothing of them. The pieces are public so that other cell
builders can reuse them on their own sections:

- ``apply_passive_and_channels(spec, groups, distance_fn, normalisers)``: insert pas, channels,
  ion reversals and the distance rules on arbitrary sections grouped as soma/axon/basal/apical;
- ``rule_value(rule, s_um, normalisers)``: evaluate one density rule at a path distance;
- ``synapse_sites(lengths_um, placement)``: the segment of each synapse site (one per segment,
  as in the paper, or a density per um with a cap);
- ``insert_synapses(spec, segments, sites, synapses)``: one excitatory and one inhibitory point
  process per site;
- ``segment_table(segments, ...)``: the design's segment table.

NEURON keeps all cells of a process in one model; ``build_cell`` may be called several times (each
call creates new, independent sections), but every built cell takes part in every later run, so
a simulation should build exactly one cell per process or drop the old ``BuiltCell`` first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from neurodepth.cells.morphology import (
    Morphology,
    apply_nseg,
    import_morphology,
    replace_axon,
    stylized_morphology,
)
from neurodepth.cells.spec import DENDRITIC_GROUPS, EVERY_SEGMENT, GROUPS, CellSpec
from neurodepth.core.errors import ConfigError, MechanismError, MorphologyError

SEGMENT_COLUMNS = [
    "segment",
    "section",
    "x",
    "region",
    "tree",
    "path_distance_um",
    "length_um",
    "area_um2",
    "diam_um",
    "x_um",
    "y_um",
    "z_um",
]


@dataclass
class BuiltCell:
    name: str
    variant: str  # the variant that built it; build_cell alone names its synapse set
    soma_seg: object
    nexus_seg: object | None
    segments: list
    exc_synapses: list
    inh_synapses: list
    segment_table: pd.DataFrame
    sections: dict
    v_init_mv: float  # the spec's initial voltage: every simulation and fit starts from it
    # the segment (index into ``segments``) of each synapse site; site k carries
    # exc_synapses[k] and inh_synapses[k]
    site_segment: np.ndarray
    reduction: list | None = None  # a reduced cell's per-subtree fits (cells.equivalent_cylinder)
    _keep: list = field(default_factory=list, repr=False)  # owners that keep NEURON objects alive

    @property
    def n_sites(self) -> int:
        return len(self.site_segment)

    @property
    def n_channels(self) -> int:
        return 2 * self.n_sites

    def synapse_for_channel(self, i: int):
        """Channel i < n_sites drives the excitatory synapse of site i, else the inhibitory."""
        n = self.n_sites
        if not 0 <= i < 2 * n:
            raise IndexError(f"channel {i} out of range 0..{2 * n - 1}")
        return self.exc_synapses[i] if i < n else self.inh_synapses[i - n]

    def input_sites(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(length_um, tree, channel_segment)``: per site, the dendrite length it stands for
        (its segment's length shared among the segment's sites) and its tree, which set its
        input rate (``simulation.inputs.generate_inputs``); per channel (excitatory sites, then
        inhibitory), its segment."""
        lengths = self.segment_table["length_um"].to_numpy(float)
        per_segment = np.bincount(self.site_segment, minlength=len(lengths))
        site_length = lengths[self.site_segment] / per_segment[self.site_segment]
        tree = self.segment_table["tree"].to_numpy()[self.site_segment]
        return site_length, tree, np.concatenate([self.site_segment, self.site_segment])


# --------------------------------------------------------------------------- biophysics


def rule_value(rule, s_um: float, normalisers: dict) -> float:
    """Evaluate a density value (a number or a rule mapping) at path distance ``s_um``."""
    if not isinstance(rule, dict):
        return float(rule)
    kind = rule["rule"]
    if kind == "constant":
        return float(rule["value"])
    if kind == "exponential_plateau":
        norm = rule["normaliser"]
        norm = normalisers[norm] if isinstance(norm, str) else float(norm)
        sn = min(s_um / norm, rule["plateau_at"])
        return rule["scale"] * (rule["offset"] + rule["amplitude"] * np.exp(rule["rate"] * sn))
    if kind == "window":
        inside = rule["start_um"] < s_um < rule["end_um"]
        return float(rule["inside"] if inside else rule["outside"])
    if kind == "linear":
        return rule["value_at_0"] + rule["slope_per_um"] * s_um
    raise ConfigError(f"unknown density rule {kind!r}")


def path_distance_fn(soma) -> Callable:
    """distance(sec, x): path length from soma(0.5) to sec(x) along the cable (um)."""
    from neuron import h

    origin = soma(0.5)

    def distance(sec, x):
        return h.distance(origin, sec(x))

    return distance


def max_terminal_distance(sections, distance_fn) -> float:
    """Largest path distance of the distal (x = 1) end of a terminal section in ``sections``."""
    best = 0.0
    for sec in sections:
        if len(sec.children()) == 0:
            best = max(best, distance_fn(sec, 1.0))
    return best


def rule_positions(sec, segment_position: str) -> list[tuple[float, float]]:
    """(segment x, x at which rules are evaluated) for each segment of ``sec``.

    ``centre_last_uses_end`` reproduces Hay's loop, which writes x = 1 last, so the last segment
    of a section takes the rule's value at the section's distal end.
    """
    xs = [(k + 0.5) / sec.nseg for k in range(sec.nseg)]
    out = [(x, x) for x in xs]
    if segment_position == "centre_last_uses_end":
        out[-1] = (xs[-1], 1.0)
    return out


def apply_passive_and_channels(
    spec: CellSpec, groups: dict, distance_fn: Callable, normalisers: dict | None = None
) -> None:
    """Insert the spec's passive properties, channels and ion reversals into ``groups``.

    ``groups`` maps a section group (soma/axon/basal/apical) to a list of sections;
    ``distance_fn(sec, x)`` gives the path distance used by distance rules; ``normalisers``
    supplies named normalising lengths (``max_terminal_distance``) for rules that need them.
    """
    normalisers = dict(normalisers or {})
    pos_rule = spec.distance.get("segment_position", "centre")
    decimals = spec.distance.get("round_decimals")
    for group, secs in groups.items():
        if group not in GROUPS:
            raise ConfigError(f"unknown section group {group!r}")
        pas = spec.passive[group]
        mechs = spec.channels.get(group, {})
        for sec in secs:
            sec.Ra = pas["Ra"]
            sec.cm = pas["cm"]
            sec.insert("pas")
            for seg in sec:
                seg.pas.g = pas["g_pas"]
                seg.pas.e = pas["e_pas"]
            for mech, params in mechs.items():
                sec.insert(mech)
                for pname, value in params.items():
                    if isinstance(value, dict):
                        for x, x_rule in rule_positions(sec, pos_rule):
                            v = rule_value(value, distance_fn(sec, x_rule), normalisers)
                            if decimals is not None:
                                v = round(v, decimals)
                            setattr(getattr(sec(x), mech), pname, v)
                    else:
                        for seg in sec:
                            setattr(getattr(seg, mech), pname, float(value))
            for ion_param, value in spec.ions.get(group, {}).items():
                ion = ion_param[1:] + "_ion"  # ena -> na_ion
                if sec.has_membrane(ion):
                    setattr(sec, ion_param, value)


# --------------------------------------------------------------------------- synapses


def excitatory_definition(spec: CellSpec, synapses: str) -> dict:
    """The spec's excitatory synapse set ``synapses`` (e.g. ``full``: AMPA+NMDA)."""
    try:
        return spec.synapses["excitatory"][synapses]
    except KeyError:
        raise ConfigError(
            f"cell spec {spec.name!r} has no excitatory synapse set {synapses!r}; it defines "
            f"{sorted(spec.synapses['excitatory'])}"
        ) from None


def synapse_sites(lengths_um, placement) -> np.ndarray:
    """The segment index of each synapse site, in segment order.

    ``placement`` is the spec's ``synapses.placement``: ``every_dendritic_segment`` (the paper:
    one site per segment) or ``{per_um, max_synapses}``: sites at ``per_um`` per um of dendrite,
    the density lowered to fit ``max_synapses`` when given. Sites are dealt along the dendrites'
    cumulative length (segment i holds the integers in (per_um * start_i, per_um * end_i]), so
    each segment holds its length's share to within one site, whatever its length."""
    lengths = np.asarray(lengths_um, dtype=float)
    if placement == EVERY_SEGMENT:
        return np.arange(len(lengths))
    total = float(lengths.sum())
    density = float(placement["per_um"])
    cap = placement.get("max_synapses")
    if cap is not None and total * density > cap:
        density = cap / total
    # the small tolerance keeps a cap reached exactly from losing its last site to rounding
    edges = np.floor(np.concatenate([[0.0], np.cumsum(lengths)]) * density + 1e-9)
    return np.repeat(np.arange(len(lengths)), np.diff(edges).astype(int))


def insert_synapses(spec: CellSpec, segments: list, sites, synapses: str = "full"):
    """One excitatory and one inhibitory point process at each site (the centre of its segment
    ``segments[site]``), with the spec's parameters."""
    from neuron import h

    exc_def = excitatory_definition(spec, synapses)
    inh_def = spec.synapses["inhibitory"]
    exc, inh = [], []
    for seg in (segments[k] for k in sites):
        for definition, out in ((exc_def, exc), (inh_def, inh)):
            syn = getattr(h, definition["mechanism"])(seg)
            for p, v in (definition.get("params") or {}).items():
                setattr(syn, p, float(v))
            out.append(syn)
    return exc, inh


# --------------------------------------------------------------------------- table + regions


def _segment_coords(sec, x: float):
    from neuron import h

    n = int(h.n3d(sec=sec))
    if n < 2:
        return np.nan, np.nan, np.nan
    arc = np.array([h.arc3d(i, sec=sec) for i in range(n)])
    target = x * arc[-1]
    return tuple(
        float(np.interp(target, arc, [f(i, sec=sec) for i in range(n)]))
        for f in (h.x3d, h.y3d, h.z3d)
    )


def assign_regions(spec: CellSpec, morph: Morphology) -> dict:
    """Section short name -> region for every dendritic section, from the spec's region rule."""
    rule = spec.regions
    regions = {}
    if rule["rule"] != "subtree":
        return regions  # index_ranges are applied per segment in build_cell
    root_name = rule["tuft_root"]
    if root_name == "nexus_children":
        if spec.nexus is None:
            raise ConfigError(
                f"cell spec {spec.name!r}: regions.tuft_root 'nexus_children' needs 'nexus'"
            )
        roots = list(morph.resolve(spec.nexus["section"]).children())
    else:
        roots = [morph.resolve(root_name)]
    tuft = set()
    stack = list(roots)
    while stack:
        s = stack.pop()
        tuft.add(morph.short_name(s))
        stack.extend(s.children())
    for sec in morph.groups["basal"]:
        regions[morph.short_name(sec)] = "basal"
    for sec in morph.groups["apical"]:
        name = morph.short_name(sec)
        regions[name] = "tuft" if name in tuft else "oblique"
    return regions


def segment_table(segments, names, trees, regions, distance_fn) -> pd.DataFrame:
    """The design's per-segment table for ``segments`` (nrn.Segment objects)."""
    rows = []
    for i, seg in enumerate(segments):
        sec = seg.sec
        x, y, z = _segment_coords(sec, seg.x)
        rows.append(
            dict(
                segment=i,
                section=names[i],
                x=float(seg.x),
                region=regions[i],
                tree=trees[i],
                path_distance_um=float(distance_fn(sec, seg.x)),
                length_um=sec.L / sec.nseg,
                area_um2=float(seg.area()),
                diam_um=float(seg.diam),
                x_um=x,
                y_um=y,
                z_um=z,
            )
        )
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


# --------------------------------------------------------------------------- build


def load_morphology(spec: CellSpec) -> Morphology:
    """Import or generate the spec's morphology (original axon still present for files)."""
    m = spec.morphology
    if m["source"] == "file":
        if not m.get("path"):
            raise MorphologyError(
                f"cell spec {spec.name!r} needs a morphology file: set morphology.path in the spec "
                "or pass morphology_path to load_cell_spec"
            )
        return import_morphology(m["path"], m["format"], label=spec.name)
    return stylized_morphology(m["geometry"], label=spec.name)


def build_cell(spec: CellSpec, synapses: str = "full") -> BuiltCell:
    """Instantiate ``spec`` in NEURON (mechanisms must be loaded) and return the ``BuiltCell``.

    ``synapses`` names the spec's excitatory synapse set (``full``: AMPA+NMDA, ``no_nmda``: AMPA
    only); the cell's ``variant`` is that name until a variant's builder renames it. A spec of
    ``kind: model`` is built by the modeller's own code (``cells.model_cell``)."""
    excitatory_definition(spec, synapses)  # fail before the slow part
    from neuron import h

    from neurodepth.cells.mechanisms_build import mechanisms_loaded

    if not mechanisms_loaded():
        raise MechanismError(
            "neurodepth mechanisms are not loaded: call load_mechanisms(dir) first"
        )
    h.celsius = spec.simulation["celsius"]
    if spec.model is not None:
        from neurodepth.cells.model_cell import load_model_morphology

        morph = load_model_morphology(spec)  # the modeller's code sets its own biophysics
    else:
        morph = _morphology_with_biophysics(spec)
    return wire_cell(spec, morph, synapses)


def _morphology_with_biophysics(spec: CellSpec) -> Morphology:
    """The spec's morphology, discretised, with its axon stub, passive properties and channels."""
    morph = load_morphology(spec)
    all_secs = [s for g in ("soma", "basal", "apical", "axon") for s in morph.groups[g]]
    apply_nseg(all_secs, spec.discretization)
    stub = spec.axon_stub
    replace_axon(morph, stub["sections"], stub["length_um"], stub["diam_um"])
    apply_nseg(morph.groups["axon"], spec.discretization)
    distance = path_distance_fn(morph.soma)
    normalisers = {"max_terminal_distance": max_terminal_distance(morph.groups["apical"], distance)}
    apply_passive_and_channels(spec, morph.groups, distance, normalisers)
    return morph


def wire_cell(spec: CellSpec, morph: Morphology, synapses: str) -> BuiltCell:
    """Synapses on every dendritic segment of ``morph``, its regions, table and nexus: the
    ``BuiltCell`` of a morphology whose biophysics are in place."""
    distance = path_distance_fn(morph.soma)
    segments, names, trees = [], [], []
    for tree in DENDRITIC_GROUPS:
        for sec in morph.groups[tree]:
            for seg in sec:
                segments.append(seg)
                names.append(morph.short_name(sec))
                trees.append(tree)
    sec_regions = assign_regions(spec, morph)
    if spec.regions["rule"] == "index_ranges":
        regions = [None] * len(segments)
        for reg in ("basal", "oblique", "tuft"):
            for first, last in spec.regions[reg]:
                for i in range(first, last + 1):
                    if i >= len(segments):
                        raise ConfigError(
                            f"cell spec {spec.name!r}: regions.{reg} range [{first}, {last}] "
                            f"beyond the {len(segments)} dendritic segments"
                        )
                    regions[i] = reg
        missing = [i for i, r in enumerate(regions) if r is None]
        if missing:
            raise ConfigError(
                f"cell spec {spec.name!r}: regions leave segments {missing[:5]}... unassigned"
            )
    else:
        regions = [sec_regions[n] for n in names]

    table = segment_table(segments, names, trees, regions, distance)
    sites = synapse_sites(table["length_um"].to_numpy(), spec.synapses["placement"])
    if sites.size == 0:
        raise ConfigError(
            f"cell spec {spec.name!r}: synapses.placement {spec.synapses['placement']} puts no "
            f"synapse on its {table['length_um'].sum():.0f} um of dendrite"
        )
    exc, inh = insert_synapses(spec, segments, sites, synapses)
    nexus_seg = None
    if spec.nexus is not None:
        nexus_seg = morph.resolve(spec.nexus["section"])(spec.nexus["x"])
    cell = BuiltCell(
        name=spec.name,
        variant=synapses,
        soma_seg=morph.soma(0.5),
        nexus_seg=nexus_seg,
        segments=segments,
        exc_synapses=exc,
        inh_synapses=inh,
        segment_table=table,
        sections=morph.by_name(),
        v_init_mv=float(spec.simulation["v_init_mv"]),
        site_segment=sites,
    )
    cell._keep = [morph.owner, morph]
    return cell
