"""Small NEURON helpers shared by the reduction and its checks."""

from __future__ import annotations


def hoc():
    """NEURON's ``h`` with the standard run system (``continuerun``) loaded."""
    from neuron import h

    h.load_file("stdrun.hoc")
    return h


def impedance_at(h, seg, frequency_hz: float, extended: bool):
    """``h.Impedance`` located at ``seg`` and computed at the current state (``extended``: with
    gating dynamics)."""
    imp = h.Impedance()
    imp.loc(seg.x, sec=seg.sec)
    imp.compute(frequency_hz, 1 if extended else 0)
    return imp


def mechanism_parameters(h, name: str) -> list[tuple[str, int]]:
    """(name, array size) of every PARAMETER of a density mechanism or point process."""
    ms = h.MechanismStandard(name, 1)
    ref = h.ref("")
    out = []
    for i in range(int(ms.count())):
        size = int(ms.name(ref, i))
        out.append((ref[0], size))
    return out
