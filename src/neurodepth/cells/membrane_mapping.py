"""Membrane of an equivalent cylinder: the original segments' mechanisms, cm and reversal
potentials mapped onto the cylinder's segments (method: ``cells/reduce.py``, step 4)."""

from __future__ import annotations

import numpy as np

from neurodepth.cells.neuron_tools import mechanism_parameters
from neurodepth.core.errors import MorphologyError

# Parameters of ion "mechanisms" worth carrying over: the reversal potentials set by the spec.
_ION_SUFFIX = "_ion"


def segment_properties(h, seg, cache: dict) -> dict:
    """{mechanism: {param: value}} for the density mechanisms in ``seg``; ions keep only e<ion>."""
    props = {}
    for mech in seg:
        name = mech.name()
        if name.endswith(_ION_SUFFIX):
            ion = name[: -len(_ION_SUFFIX)]
            props[name] = {f"e{ion}": getattr(seg, f"e{ion}")}
            continue
        if name not in cache:
            cache[name] = mechanism_parameters(h, name)
        vals = {}
        for pname, size in cache[name]:
            if size == 1:
                vals[pname] = getattr(seg, pname)
        props[name] = vals
    return props


def set_cylinder_properties(cyl, seg_props: list[dict], cm: np.ndarray):
    # insert every mechanism first: ions (and their e<ion>) exist only once a user is inserted
    for mname in sorted({m for p in seg_props for m in p}):
        if not mname.endswith(_ION_SUFFIX):
            cyl.insert(mname)
    for j, seg in enumerate(cyl):
        seg.cm = cm[j]
        for vals in seg_props[j].values():
            for pname, v in vals.items():
                setattr(seg, pname, v)


def overlap_weights(x_lo: np.ndarray, x_hi: np.ndarray, areas: np.ndarray, nseg: int):
    """W[i, j]: membrane area of original segment i assigned to reduced segment j.

    Segment i covers the cylinder interval [x_lo, x_hi] (from its parent node's mapped place to
    its own); its area is spread uniformly over that interval, so every reduced segment on the
    path to the farthest tip receives membrane and none is left empty."""
    edges = np.linspace(0.0, 1.0, nseg + 1)
    lo = np.minimum(x_lo, x_hi)[:, None]
    hi = np.maximum(x_lo, x_hi)[:, None]
    width = hi - lo
    overlap = np.clip(np.minimum(hi, edges[None, 1:]) - np.maximum(lo, edges[None, :-1]), 0, None)
    w = np.where(width > 1e-12, overlap / np.where(width > 1e-12, width, 1.0), 0.0)
    # zero-width intervals go wholly to the reduced segment containing them
    point = width[:, 0] <= 1e-12
    if point.any():
        j = np.minimum((hi[point, 0] * nseg).astype(int), nseg - 1)
        w[np.flatnonzero(point), :] = 0.0
        w[np.flatnonzero(point), j] = 1.0
    return w * areas[:, None]


def mapped_properties(h, orig_segments, W, cache, bin_area=None):
    """Per reduced segment: mechanisms' PARAMETERs, cm, ion reversals from the originals.

    ``bin_area=None`` (mode "density"): area-weighted mean of the specific values.
    ``bin_area`` given (mode "total"): conductances and cm are the mapped originals' totals
    divided by the reduced segment's area, so each mechanism's total conductance and the total
    capacitance are conserved; non-conductance parameters are area-weighted means."""
    props = [segment_properties(h, s, cache) for s in orig_segments]
    cms = np.array([s.cm for s in orig_segments])
    nseg = W.shape[1]
    wsum = W.sum(axis=0)
    if np.any(wsum <= 0):
        raise MorphologyError("reduction: a reduced segment received no membrane")
    params = sorted({(m, k) for p in props for m, vals in p.items() for k in vals})
    mechs = sorted({m for p in props for m in p})
    denom = wsum if bin_area is None else np.full(nseg, float(bin_area))
    cm = (W * cms[:, None]).sum(axis=0) / denom
    seg_props = [{m: {} for m in mechs} for _ in range(nseg)]
    for m, k in params:
        has = np.array([m in p and k in p[m] for p in props])
        vals = np.array([p[m][k] if (m in p and k in p[m]) else 0.0 for p in props])
        wh = W[has]
        carried = wh.sum(axis=0)
        if k.startswith("g") and not m.endswith(_ION_SUFFIX):
            col = (wh * vals[has][:, None]).sum(axis=0) / denom
        else:
            col = np.where(
                carried > 0,
                (wh * vals[has][:, None]).sum(axis=0) / np.where(carried > 0, carried, 1.0),
                np.nan,
            )
            ok = ~np.isnan(col)
            if ok.any() and not ok.all():
                centres = (np.arange(nseg) + 0.5) / nseg
                col[~ok] = np.interp(centres[~ok], centres[ok], col[ok])
        for j in range(nseg):
            if not np.isnan(col[j]):
                seg_props[j][m][k] = float(col[j])
    return seg_props, cm
