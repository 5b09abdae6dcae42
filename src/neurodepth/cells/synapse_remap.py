"""Synapses of a reduced cell: each original synapse re-created, same mechanism and parameters, at
the node of its equivalent cylinder whose transfer impedance to the soma equals the original
site's (method: ``cells/reduce.py``, step 6)."""

from __future__ import annotations

import numpy as np

from neurodepth.cells.neuron_tools import mechanism_parameters


def transfer_to_x(h, imp, cyl, z_targets: np.ndarray) -> np.ndarray:
    """Invert |Z(soma, x)| along a cylinder (monotone, piecewise linear between nodes)."""
    xs = np.array([0.0] + [seg.x for seg in cyl] + [1.0])
    zs = np.array([imp.transfer(x, sec=cyl) for x in xs])
    zs = np.minimum.accumulate(zs)  # guard against round-off non-monotonicity
    # np.interp needs increasing abscissae: walk the curve backwards
    return np.interp(z_targets, zs[::-1], xs[::-1], left=1.0, right=0.0)


def nodes_for(cyl, xs: np.ndarray) -> np.ndarray:
    """The node (segment centre) of ``cyl`` holding each place ``xs``: where NEURON puts a point
    process anyway."""
    return (np.minimum((xs * cyl.nseg).astype(int), cyl.nseg - 1) + 0.5) / cyl.nseg


def point_process_spec(h, pp, cache: dict) -> tuple[str, dict]:
    """(class name, scalar parameters) of a point process, enough to re-create it elsewhere."""
    cls = pp.hname().split("[")[0]
    if cls not in cache:
        cache[cls] = mechanism_parameters(h, cls)
    return cls, {k: getattr(pp, k) for k, size in cache[cls] if size == 1}


def make_point_process(h, spec: tuple[str, dict], seg):
    cls, params = spec
    pp = getattr(h, cls)(seg)
    for k, v in params.items():
        setattr(pp, k, v)
    return pp
