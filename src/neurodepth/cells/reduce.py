"""Reduce a built cell: each stem dendrite collapsed into one equivalent cylinder (the
``no_branching`` variant, ``cells/variants.py``, is the full cell reduced).

Method (after Neuron_Reduce, Amsalem et al., Nat Commun 2020; implemented here from the method,
with NEURON's ``h.Impedance`` as the only tool):

1. Build the full cell and linearise it at ``finitialize(v_init)``, at ``frequency_hz`` (0 Hz by
   default). By default the linearisation is NEURON's plain one (``extended=False``): every
   channel counts with its conductance at that state (Ih as a leak), which is what fast synaptic
   events see; ``extended=True`` adds gating dynamics (the true DC slope) and costs ~1000x more.
2. For every subtree attached to the soma (each basal stem, the apical tree; the axon stays):
   * ``Z_in``: the subtree's own input impedance at its root, measured with the subtree
     disconnected from the soma (sealed tips);
   * ``A_min``: the strongest root-to-tip voltage attenuation ``|V_tip / V_root|`` for current
     injected at the root. For a sealed cylinder this ratio is ``1/cosh(L)`` whatever loads the
     near end, so it fixes the cylinder's electrotonic length ``L = acosh(1/A_min)``.
3. Each original dendritic segment covers, on a uniform cylinder of electrotonic length L, the
   interval between the places whose attenuation ``cosh(L(1-x))/cosh(L)`` equals that of its
   parent node and its own node (measured from the soma in the intact cell).
4. Membrane properties of the cylinder (``mode="density"``, default; documented choice): every
   PARAMETER of every density mechanism (``pas``, channels, Ca dynamics), ``cm`` and the ion
   reversal potentials are set per reduced segment to the **area-weighted mean over the original
   membrane mapped onto it** (each original segment's area spread over its interval). The
   specific properties are thus those of the original membrane at the same electrotonic distance
   — what "the region rules evaluated at the mapped distance" aims at — without needing a
   spec-specific notion of distance, so it works for any user cell. Conductances (parameters
   whose name starts with ``g``) are weighted with zeros where a mechanism is absent; other
   parameters (e.g. Ca decay) are averaged over the carriers. ``Ra`` is the subtree's
   length-weighted mean. (``mode="total"`` instead conserves each mechanism's total conductance
   and the total capacitance on a cylinder of the tree's area, solving only l/d^2 for Z_in; it
   kept tau_0 but lost 22 % of the input resistance on the stylized cell, so it is not default.)
5. With these properties fixed per position, the cylinder's diameter and length are solved (2-D
   least squares in log space, started from Rall's uniform-cylinder formulas) so that the
   isolated cylinder reproduces ``Z_in`` and ``A_min`` as NEURON measures them (rel. 1e-4).
   ``nseg`` is odd with at most 0.05 length constants per segment (at least 5).
6. The dendrites are deleted, the cylinders attached where their roots were, and every synapse is
   re-created (same mechanism, same parameters, same channel order) at the node of the cylinder
   whose transfer impedance ``|Z(soma, x)|`` equals the original site's (computed on the
   assembled reduced cell, interpolated between nodes, clipped to the cylinder). Several
   synapses may share a reduced segment. The nexus recording site is mapped the same way.

The returned ``BuiltCell`` keeps one entry per ORIGINAL dendritic segment: ``segments[i]`` is the
reduced segment carrying segment ``i``'s synapses, and ``segment_table`` is the full cell's table
with added columns ``reduced_section`` (key in ``sections``), ``reduced_x`` (the node) and
``reduced_x_mapped`` (the exact place before snapping to a node). ``cell.reduction`` lists the
per-subtree :class:`SubtreeFit` (targets and achieved values).

This module runs the steps in order; each step's work lives in its own module:
``equivalent_cylinder`` (steps 2, 3 and 5), ``membrane_mapping`` (step 4), ``synapse_remap``
(step 6); ``reduction_checks`` measures what a reduction must keep (Rin, tau_0, EPSPs).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neurodepth.cells.equivalent_cylinder import (
    SubtreeFit,
    dendritic_roots,
    fit_cylinder,
    fit_cylinder_total,
    measure_subtree,
    nseg_for,
    rall_guess,
    subtree_sections,
    uniform_x,
)
from neurodepth.cells.membrane_mapping import (
    mapped_properties,
    overlap_weights,
    set_cylinder_properties,
)
from neurodepth.cells.neuron_tools import hoc, impedance_at
from neurodepth.cells.synapse_remap import (
    make_point_process,
    nodes_for,
    point_process_spec,
    transfer_to_x,
)
from neurodepth.core.errors import ConfigError, MorphologyError

__all__ = ["SubtreeFit", "reduce_cell"]


def _measure_intact(h, cell, frequency_hz, extended, v_init):
    """Soma->segment attenuation and |transfer impedance| for every original segment (+ nexus)."""
    h.finitialize(v_init)
    imp = impedance_at(h, cell.soma_seg, frequency_hz, extended)
    att = np.array([imp.ratio(s.x, sec=s.sec) for s in cell.segments])
    ztr = np.array([imp.transfer(s.x, sec=s.sec) for s in cell.segments])
    nexus = None
    if cell.nexus_seg is not None:
        n = cell.nexus_seg
        nexus = (n, imp.ratio(n.x, sec=n.sec), imp.transfer(n.x, sec=n.sec))
    return att, ztr, nexus


def _parent_attenuation(orig_segments, seg_index: dict, att: np.ndarray) -> np.ndarray:
    """Attenuation at each segment's parent node (the soma for a root's first segment)."""
    att_parent = np.ones(len(orig_segments))
    for i, seg in enumerate(orig_segments):
        sec = seg.sec
        k = int(seg.x * sec.nseg)
        if k > 0:
            att_parent[i] = att[seg_index[(sec.name(), round((k - 0.5) / sec.nseg, 12))]]
        else:
            psec = sec.parentseg().sec
            key = (psec.name(), round((psec.nseg - 0.5) / psec.nseg, 12))
            att_parent[i] = att[seg_index[key]] if key in seg_index else 1.0
    return att_parent


def _subtree_targets(h, soma, roots, seg_index, areas, frequency_hz, extended, v_init):
    """One :class:`SubtreeFit` (targets only) per root and the indices of its segments."""
    fits: list[SubtreeFit] = []
    members: list[np.ndarray] = []
    for root in roots:
        secs = subtree_sections(root)
        idx = np.array(
            sorted(
                seg_index[(s.name(), round(seg.x, 12))]
                for s in secs
                for seg in s
                if (s.name(), round(seg.x, 12)) in seg_index
            )
        )
        z_in, a_min, px = measure_subtree(h, soma, root, frequency_hz, extended, v_init)
        fits.append(
            SubtreeFit(
                root=root.name(),
                parent_x=px,
                n_sections=len(secs),
                n_segments=len(idx),
                area_um2=float(areas[idx].sum()),
                z_in_mohm=float(z_in),
                attenuation_min=float(a_min),
                electrotonic_length=float(math.acosh(1.0 / a_min)) if a_min < 1 else 0.0,
                section_names=[s.name() for s in secs],
            )
        )
        members.append(idx)
    return fits, members


def _make_cylinder(h, name, fit, segs_i, dend_secs, x_lo, x_hi, areas_i, options, cache):
    """The fitted cylinder of one subtree (the full cell must still exist: its membrane is read).
    ``options``: (frequency_hz, extended, v_init, max_segment_dl, mode)."""
    frequency_hz, extended, v_init, max_segment_dl, mode = options
    names = set(fit.section_names)
    root_secs = [s for s in dend_secs if s.name() in names]
    lengths = np.array([s.L for s in root_secs])
    fit.ra_ohm_cm = float(np.sum(lengths * np.array([s.Ra for s in root_secs])) / lengths.sum())
    g_pas = [s.g_pas if hasattr(s, "g_pas") else np.nan for s in segs_i]
    g_m = float(np.nanmean(g_pas)) if np.isfinite(g_pas).any() else 1e-4
    guess = rall_guess(fit.z_in_mohm, fit.electrotonic_length, fit.ra_ohm_cm, g_m)
    cyl = h.Section(name=name)
    cyl.Ra = fit.ra_ohm_cm
    cyl.nseg = nseg = nseg_for(fit.electrotonic_length, max_segment_dl)
    W = overlap_weights(x_lo, x_hi, areas_i, nseg)
    cyl.L, cyl.diam = guess[1], guess[0]
    if mode == "density":
        seg_props, cm = mapped_properties(h, segs_i, W, cache)
        set_cylinder_properties(cyl, seg_props, cm)
        fit_cylinder(h, cyl, fit, frequency_hz, extended, v_init, guess)
    else:
        seg_props, cm = mapped_properties(h, segs_i, W, cache, bin_area=fit.area_um2 / nseg)
        set_cylinder_properties(cyl, seg_props, cm)
        fit_cylinder_total(h, cyl, fit, frequency_hz, extended, v_init, fit.area_um2)
    fit.nseg = int(cyl.nseg)
    fit.cylinder_area_um2 = float(sum(seg.area() for seg in cyl))
    return cyl


def _recreate_synapses(h, specs, segments, site_segment):
    """Synapse ``k`` re-made from its spec on the reduced segment that carries its site's
    segment ``site_segment[k]``."""
    sites = [segments[i] for i in site_segment]
    return [make_point_process(h, spec, seg) for spec, seg in zip(specs, sites, strict=True)]


def reduce_cell(
    cell,
    frequency_hz: float = 0.0,
    extended: bool = False,
    v_init: float | None = None,
    max_segment_dl: float = 0.05,
    mode: str = "density",
):
    """Collapse every stem dendrite of a built full cell into an equivalent cylinder.

    ``cell`` is a ``BuiltCell`` (docs/design.md) and is consumed: its dendritic sections and
    synapses are deleted. Returns a new ``BuiltCell`` (same ``variant``; the caller names it) and
    the list of :class:`SubtreeFit` (targets and achieved values, for validation and reports).
    ``v_init``: the linearisation voltage, mV; None uses the cell's own (``cell.v_init_mv``).
    """
    if v_init is None:
        v_init = cell.v_init_mv
    h = hoc()
    soma = cell.soma_seg.sec
    orig_segments = list(cell.segments)
    n_seg = len(orig_segments)
    if n_seg == 0:
        raise MorphologyError(f"cell {cell.name!r} has no dendritic segments to reduce")
    # Sections in segment order, never a set's: a set's order follows memory addresses, so the
    # Ra sum of each cylinder would round differently from run to run.
    dend_secs = list(dict.fromkeys(s.sec for s in orig_segments))
    dend_set = set(dend_secs)
    roots = dendritic_roots(soma, dend_set)
    seg_index = {}
    for i, s in enumerate(orig_segments):
        seg_index[(s.sec.name(), round(s.x, 12))] = i
    areas = np.array([s.area() for s in orig_segments])

    if mode not in ("density", "total"):
        raise ConfigError(f"reduction mode {mode!r}: expected 'density' or 'total'")
    att, ztr, nexus = _measure_intact(h, cell, frequency_hz, extended, v_init)
    att_parent = _parent_attenuation(orig_segments, seg_index, att)
    fits, members = _subtree_targets(
        h, soma, roots, seg_index, areas, frequency_hz, extended, v_init
    )
    if sum(len(m) for m in members) != n_seg:
        raise MorphologyError(f"cell {cell.name!r}: some dendritic segments are not under the soma")

    # Build and fit the cylinders while the full cell still exists (we need its segment props).
    cache: dict = {}
    cylinders = []
    cyl_keys: list[str] = []
    short_names = {sec.name(): key for key, sec in cell.sections.items()}
    options = (frequency_hz, extended, v_init, max_segment_dl, mode)
    for fit, idx in zip(fits, members):
        short = short_names.get(fit.root, fit.root)
        cyl_keys.append(f"cyl_{short}")
        cyl = _make_cylinder(
            h,
            f"{cell.name}.cyl_{short}",
            fit,
            [orig_segments[i] for i in idx],
            dend_secs,
            uniform_x(att_parent[idx], fit.electrotonic_length),
            uniform_x(att[idx], fit.electrotonic_length),
            areas[idx],
            options,
            cache,
        )
        cylinders.append(cyl)

    # Copy synapse types/params, then drop the originals and the dendrites.
    exc_specs = [point_process_spec(h, p, cache) for p in cell.exc_synapses]
    inh_specs = [point_process_spec(h, p, cache) for p in cell.inh_synapses]
    nexus_root = None
    nexus_z = nexus[2] if nexus is not None else None
    if nexus is not None:
        for fit in fits:
            if nexus[0].sec.name() in set(fit.section_names):
                nexus_root = fit.root
    keep_keys = [k for k, sec in cell.sections.items() if sec not in dend_set]
    cell.exc_synapses.clear()
    cell.inh_synapses.clear()
    cell.segments.clear()
    cell.nexus_seg = None
    for sec in dend_secs:
        h.delete_section(sec=sec)
    del dend_secs, dend_set, orig_segments, nexus

    for fit, cyl in zip(fits, cylinders):
        cyl.connect(soma(fit.parent_x), 0)

    # Place synapses by transfer impedance on the assembled reduced cell.
    h.finitialize(v_init)
    imp = impedance_at(h, cell.soma_seg, frequency_hz, extended)
    new_segments = [None] * n_seg
    reduced_section = [""] * n_seg
    reduced_x = np.zeros(n_seg)
    mapped_x = np.zeros(n_seg)
    for cyl, key, idx in zip(cylinders, cyl_keys, members):
        xs = transfer_to_x(h, imp, cyl, ztr[idx])
        for i, x, node in zip(idx, xs, nodes_for(cyl, xs)):
            seg = cyl(float(node))
            new_segments[i] = seg
            reduced_section[i] = key
            reduced_x[i] = seg.x
            mapped_x[i] = x
    nexus_seg = None
    if nexus_root is not None:
        # the nexus recording site is mapped like a synapse, by its transfer impedance
        cyl = cylinders[[f.root for f in fits].index(nexus_root)]
        x = transfer_to_x(h, imp, cyl, np.array([nexus_z]))
        nexus_seg = cyl(float(nodes_for(cyl, x)[0]))

    table = cell.segment_table.copy()
    table["reduced_section"] = reduced_section
    table["reduced_x"] = reduced_x
    table["reduced_x_mapped"] = mapped_x
    sections = {k: cell.sections[k] for k in keep_keys}
    sections.update(dict(zip(cyl_keys, cylinders)))
    reduced = dataclasses.replace(
        cell,
        nexus_seg=nexus_seg,
        segments=new_segments,
        exc_synapses=_recreate_synapses(h, exc_specs, new_segments, cell.site_segment),
        inh_synapses=_recreate_synapses(h, inh_specs, new_segments, cell.site_segment),
        segment_table=table,
        sections=sections,
    )
    return reduced, fits
