"""Equivalent cylinders: a stem dendrite's targets (input impedance, strongest attenuation) and
the uniform cylinder fitted to them (method: ``cells/reduce.py``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq, least_squares

from neurodepth.core.errors import MorphologyError


@dataclass
class SubtreeFit:
    """One stem dendrite and its equivalent cylinder (all impedances in MOhm, lengths in um)."""

    root: str
    parent_x: float
    n_sections: int
    n_segments: int
    area_um2: float
    z_in_mohm: float  # target: isolated subtree input impedance at its root
    attenuation_min: float  # target: min |V_tip/V_root| over tips
    electrotonic_length: float  # acosh(1/attenuation_min)
    diam_um: float = float("nan")
    length_um: float = float("nan")
    nseg: int = 0
    ra_ohm_cm: float = float("nan")
    z_in_fit_mohm: float = float("nan")
    attenuation_fit: float = float("nan")
    cylinder_area_um2: float = float("nan")
    section_names: list = field(default_factory=list, repr=False)


def subtree_sections(root) -> list:
    out = []
    stack = [root]
    while stack:
        sec = stack.pop()
        out.append(sec)
        stack.extend(reversed(list(sec.children())))
    return out


def dendritic_roots(soma, dend_sections: set) -> list:
    """Children of the soma whose subtree holds dendritic segments (axon stubs are excluded)."""
    roots = []
    for child in soma.children():
        if child in dend_sections:
            roots.append(child)
            continue
        if any(s in dend_sections for s in subtree_sections(child)):
            raise MorphologyError(
                f"section {child.name()} under the soma is not dendritic but carries dendrites; "
                "cannot reduce"
            )
    return roots


# --------------------------------------------------------------------------- cable formulas


def uniform_x(attenuation: np.ndarray, L: float) -> np.ndarray:
    """Place on a sealed uniform cylinder of electrotonic length L where cosh(L(1-x))/cosh(L)
    equals the given soma-to-site attenuation (clipped to the cylinder)."""
    if L <= 0:
        return np.zeros_like(attenuation)
    arg = np.clip(attenuation * math.cosh(L), 1.0, math.cosh(L))
    return np.clip(1.0 - np.arccosh(arg) / L, 0.0, 1.0)


def rall_guess(z_in_mohm: float, L: float, ra: float, g_m: float) -> tuple[float, float]:
    """Uniform passive cylinder (Rall): diameter and length (um) giving input impedance z_in at
    DC and electrotonic length L, for axial resistivity ra (ohm cm) and membrane g_m (S/cm2)."""
    rm = 1.0 / g_m  # ohm cm2
    z_inf = z_in_mohm * 1e6 * math.tanh(max(L, 1e-6))  # ohm
    d_cm = ((2.0 / math.pi) * math.sqrt(ra * rm) / z_inf) ** (2.0 / 3.0)
    lam_cm = math.sqrt(rm * d_cm / (4.0 * ra))
    return d_cm * 1e4, L * lam_cm * 1e4


def nseg_for(electrotonic_length: float, max_dl: float) -> int:
    """Odd nseg with at most ``max_dl`` length constants per segment (at least 5 segments).

    A length-based rule (1 + 2 int(L/40 um)) would give a thick equivalent cylinder hundreds of
    segments; what matters for synapse placement and accuracy is the electrotonic resolution."""
    n = max(5, math.ceil(electrotonic_length / max_dl))
    return n if n % 2 else n + 1


def measure_subtree(h, soma, root, frequency_hz, extended, v_init):
    """Isolated input impedance at the root and min soma-side attenuation to any segment."""
    px = root.parentseg().x
    orient = h.section_orientation(sec=root)
    h.disconnect(sec=root)
    try:
        h.finitialize(v_init)
        imp = h.Impedance()
        imp.loc(0, sec=root)
        imp.compute(frequency_hz, 1 if extended else 0)
        z_in = imp.input(0, sec=root)
        att_min = min(imp.ratio(1, sec=s) for s in subtree_sections(root) if not s.children())
    finally:
        root.connect(soma(px), orient)
    return z_in, att_min, px


def fit_cylinder_total(h, cyl, fit: SubtreeFit, frequency_hz, extended, v_init, area_um2):
    """Mode "total": area fixed to the tree's, so only l/d^2 matters; solve it for Z_in."""
    h.finitialize(v_init)

    def log_z(log_k):
        k = math.exp(log_k)  # l / d^2, 1/um
        d = (area_um2 / (math.pi * k)) ** (1.0 / 3.0)
        cyl.diam, cyl.L = d, k * d * d
        imp = h.Impedance()
        imp.loc(0, sec=cyl)
        imp.compute(frequency_hz, 1 if extended else 0)
        return math.log(imp.input(0, sec=cyl)) - math.log(fit.z_in_mohm)

    lo, hi = math.log(1e-6), math.log(1e4)
    if log_z(lo) > 0 or log_z(hi) < 0:
        raise MorphologyError(
            f"equivalent cylinder for subtree {fit.root}: the tree's membrane cannot reproduce "
            f"Z_in={fit.z_in_mohm:.4g} MOhm"
        )
    brentq(log_z, lo, hi, xtol=1e-12, rtol=1e-12)
    imp = h.Impedance()
    imp.loc(0, sec=cyl)
    imp.compute(frequency_hz, 1 if extended else 0)
    fit.diam_um, fit.length_um = float(cyl.diam), float(cyl.L)
    fit.z_in_fit_mohm, fit.attenuation_fit = imp.input(0, sec=cyl), imp.ratio(1, sec=cyl)


def fit_cylinder(h, cyl, fit: SubtreeFit, frequency_hz, extended, v_init, guess, tol: float = 1e-4):
    """Solve diameter and length so the isolated cylinder has the target Z_in and A_min.

    Extended impedance (gating dynamics) costs ~1000x the plain one, so the 2-D least squares
    runs on the plain impedance against a corrected target, and the extended value is used for
    a defect correction (target' = target - (extended - plain)); the mismatch between the two
    modes hardly depends on geometry, so this converges in a few extended evaluations.
    """
    target = np.log([fit.z_in_mohm, fit.attenuation_min])

    # Gating states at v_init do not depend on geometry, so one finitialize serves the whole fit;
    # Impedance.compute re-derives the cable matrix from the new L and diam itself.
    h.finitialize(v_init)

    def measure(u, ext):
        cyl.diam = math.exp(u[0])
        cyl.L = math.exp(u[1])
        imp = h.Impedance()
        imp.loc(0, sec=cyl)
        imp.compute(frequency_hz, 1 if ext else 0)
        z, a = imp.input(0, sec=cyl), imp.ratio(1, sec=cyl)
        return np.log([max(z, 1e-12), max(a, 1e-300)])

    bounds = (np.log([0.01, 1.0]), np.log([200.0, 50000.0]))
    sol = least_squares(
        lambda v: measure(v, False) - target,
        np.log(guess),
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
        bounds=bounds,
    )
    u = sol.x
    r = measure(u, extended) - target
    err = float(np.max(np.abs(r)))
    if extended and err >= tol:
        # Broyden iterations on the extended residual, starting from the plain-mode Jacobian
        # (by central differences); each iteration costs one extended evaluation.
        eps = 1e-4
        jac = np.column_stack(
            [
                (measure(u + eps * e, False) - measure(u - eps * e, False)) / (2 * eps)
                for e in np.eye(2)
            ]
        )
        for _ in range(30):
            step = -np.linalg.solve(jac, r)
            for _half in range(8):  # backtrack if the step makes things worse
                u_new = np.clip(u + step, bounds[0], bounds[1])
                r_new = measure(u_new, extended) - target
                if np.max(np.abs(r_new)) < err:
                    break
                step = step / 2
            du = u_new - u
            if du @ du > 0:
                jac = jac + np.outer(r_new - r - jac @ du, du) / (du @ du)
            u, r = u_new, r_new
            err = float(np.max(np.abs(r)))
            if err < tol:
                break
    z, a = np.exp(measure(u, extended))
    fit.diam_um, fit.length_um = float(cyl.diam), float(cyl.L)
    fit.z_in_fit_mohm, fit.attenuation_fit = float(z), float(a)
    if err > 10 * tol:
        raise MorphologyError(
            f"equivalent cylinder for subtree {fit.root}: no diameter/length reproduces "
            f"Z_in={fit.z_in_mohm:.4g} MOhm and attenuation {fit.attenuation_min:.4g} "
            f"(best {z:.4g} MOhm, {a:.4g})"
        )
