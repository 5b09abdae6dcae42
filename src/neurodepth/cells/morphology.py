"""Morphologies: file import (Neurolucida ASC, SWC) through NEURON's Import3d, the stylized L5PC
generator, the axon stub, the nseg rule and the checksum-verified fetch of a morphology file.

Every morphology comes back as a ``Morphology``: its sections grouped as ``soma``, ``axon``,
``basal`` and ``apical``, each list in index order (Import3d numbers sections in depth-first
pre-order of the file, which is the paper's segment order), and a name -> section map with short
names such as ``dend[3]`` and ``apic[36]``.
"""

from __future__ import annotations

import hashlib
import math
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodepth.core.atomic import atomic_path
from neurodepth.core.errors import MorphologyError

_IMPORT3D_GROUPS = {"soma": "soma", "axon": "axon", "dend": "basal", "apic": "apical"}
_GROUP_PREFIX = {"soma": "soma", "axon": "axon", "basal": "dend", "apical": "apic"}


class _Holder:
    """Owner object for one cell's sections (NEURON names them ``<name>.dend[3]`` etc.)."""

    _count = 0

    def __init__(self, label: str):
        _Holder._count += 1
        self.label = f"{label}{_Holder._count - 1}" if _Holder._count > 1 else label

    def __repr__(self) -> str:
        return self.label


@dataclass
class Morphology:
    """Sections of one cell, by group, in index order; ``aliases`` maps names like ``trunk_end``."""

    groups: dict  # group -> list of nrn.Section
    owner: object  # keeps the sections alive
    aliases: dict = field(default_factory=dict)

    @property
    def soma(self):
        return self.groups["soma"][0]

    def short_name(self, sec) -> str:
        """``dend[3]`` for a section named ``Hay.dend[3]``."""
        return sec.name().split(".")[-1]

    def by_name(self) -> dict:
        return {self.short_name(s): s for g in self.groups.values() for s in g}

    def resolve(self, name: str):
        """The section called ``name`` (short name or alias); MorphologyError if absent."""
        name = self.aliases.get(name, name)
        table = self.by_name()
        if name not in table:
            raise MorphologyError(f"no section named {name!r} in the morphology")
        return table[name]


def odd_nseg(length_um: float, per_um: float) -> int:
    """Hay's rule nseg = 1 + 2*int(L/per_um) (odd, so x = 0.5 is a node)."""
    return 1 + 2 * int(length_um / per_um)


def apply_nseg(sections, rule: dict) -> None:
    """Apply a spec's discretization rule to each section."""
    for sec in sections:
        if rule["rule"] == "odd_per_length":
            sec.nseg = odd_nseg(sec.L, rule["length_um"])
        else:
            sec.nseg = int(rule["nseg"])


def _load_import3d():
    from neuron import h

    h.load_file("stdlib.hoc")
    h.load_file("import3d.hoc")
    return h


def import_morphology(path, fmt: str, label: str = "cell") -> Morphology:
    """Import an ASC (Neurolucida 3) or SWC file with NEURON's Import3d.

    The original axon is kept here; ``replace_axon`` swaps it for the stub.
    """
    path = Path(path)
    if not path.exists():
        raise MorphologyError(f"morphology file {path} does not exist")
    h = _load_import3d()
    if fmt == "asc":
        reader = h.Import3d_Neurolucida3()
    elif fmt == "swc":
        reader = h.Import3d_SWC_read()
    else:
        raise MorphologyError(f"morphology {path}: unknown format {fmt!r} (asc or swc)")
    try:
        reader.quiet = 1
    except Exception:  # older readers have no 'quiet'
        pass
    owner = _Holder(label)
    try:
        reader.input(str(path))
        gui = h.Import3d_GUI(reader, 0)
        gui.instantiate(owner)
    except Exception as exc:  # hoc errors arrive as RuntimeError
        raise MorphologyError(f"morphology {path}: Import3d could not read it ({exc})") from exc
    groups = {g: [] for g in ("soma", "axon", "basal", "apical")}
    for attr, group in _IMPORT3D_GROUPS.items():
        secs = getattr(owner, attr, None)
        if secs is None:
            continue
        # Import3d's lists are in index order; sort by the index in the name to be sure.
        secs = sorted(secs, key=lambda s: int(re.search(r"\[(\d+)\]$", s.name()).group(1)))
        groups[group] = list(secs)
    if not groups["soma"]:
        raise MorphologyError(f"morphology {path}: no soma found")
    if len(groups["soma"]) > 1:
        raise MorphologyError(
            f"morphology {path}: {len(groups['soma'])} soma sections; only one is supported"
        )
    if not groups["basal"] and not groups["apical"]:
        raise MorphologyError(f"morphology {path}: no dendrites (dend/apic) found")
    return Morphology(groups=groups, owner=owner)


def replace_axon(morph: Morphology, n_sections: int, length_um: float, diam_um: float) -> None:
    """Delete the imported axon and attach ``n_sections`` cylinders in a chain to soma(0.5)."""
    from neuron import h

    for sec in morph.groups["axon"]:
        h.delete_section(sec=sec)
    stubs = []
    parent = morph.soma(0.5)
    for i in range(n_sections):
        sec = h.Section(name=f"axon[{i}]", cell=morph.owner)
        sec.L = length_um
        sec.diam = diam_um
        sec.nseg = 1
        sec.connect(parent, 0)
        parent = sec(1)
        stubs.append(sec)
    morph.groups["axon"] = stubs
    # keep Python references alive on the owner too
    morph.owner.axon_stub = stubs


# --------------------------------------------------------------------------- stylized generator


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def _perp(d, k: int):
    """A unit vector perpendicular to d, rotated by k*90 degrees for alternate bifurcation
    planes."""
    ref = np.array([0.0, 0.0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = _unit(np.cross(d, ref))
    b = _unit(np.cross(d, a))
    return a if k % 2 == 0 else b


def _branch_dirs(d, k: int, spread: float):
    p = _perp(d, k)
    return [_unit(d + spread * p), _unit(d - spread * p)]


def stylized_morphology(geometry: dict, label: str = "stylized") -> Morphology:
    """Build a stylized L5 pyramidal morphology from a few geometry parameters.

    ``geometry``: ``soma {length_um, diam_um}``; ``basal {stems, levels}``; ``trunk`` (list of
    pieces ``{length_um, diam_um, diam_end_um?, oblique?}``), and ``tuft {levels}``. A ``levels``
    list describes a binary tree: level 0 are the branches leaving the parent point (``stems`` of
    them for basal, 2 for the tuft, 1 for an oblique), each later level splits every branch in two.
    Sections are numbered in depth-first pre-order (like Import3d), basal as ``dend``, apical as
    ``apic``. Aliases: ``trunk_end`` is the last trunk piece (the nexus lies at its distal end).
    """
    from neuron import h

    owner = _Holder(label)
    # dicts: group, parent (index or None -> soma centre), start, dir, L, d0, d1, children
    nodes = []

    def add(group, parent, start, direction, L, d0, d1=None):
        node = dict(
            group=group,
            parent=parent,
            start=np.asarray(start, float),
            dir=_unit(direction),
            L=float(L),
            d0=float(d0),
            d1=float(d0 if d1 is None else d1),
            children=[],
        )
        nodes.append(node)
        idx = len(nodes) - 1
        if parent is not None:
            nodes[parent]["children"].append(idx)
        return idx

    def end(i):
        n = nodes[i]
        return n["start"] + n["L"] * n["dir"]

    def grow(group, parent_idx, start, directions, levels, k=0):
        """Grow a binary tree of len(levels) levels from ``start`` along ``directions``."""
        roots = []
        for d in directions:
            lev = levels[0]
            i = add(
                group,
                parent_idx,
                start,
                d,
                lev["length_um"],
                lev["diam_um"],
                lev.get("diam_end_um"),
            )
            roots.append(i)
            if len(levels) > 1:
                grow(group, i, end(i), _branch_dirs(nodes[i]["dir"], k + 1, 0.7), levels[1:], k + 1)
        return roots

    soma_L = float(geometry["soma"]["length_um"])
    soma_d = float(geometry["soma"]["diam_um"])
    up = np.array([0.0, 1.0, 0.0])

    # basal stems leave the lower half of the soma, spread evenly in azimuth
    basal = geometry["basal"]
    n_stems = int(basal["stems"])
    for s in range(n_stems):
        phi = 2 * math.pi * s / n_stems
        elev = math.radians(-20.0 - 40.0 * ((s % 3) / 2.0))  # -20..-60 degrees below horizontal
        d = np.array(
            [math.cos(phi) * math.cos(elev), math.sin(elev), math.sin(phi) * math.cos(elev)]
        )
        start = 0.5 * soma_d * _unit(d)
        grow("basal", None, start, [d], basal["levels"], k=s)

    # apical trunk with obliques at the distal end of each piece (oblique first: pre-order like
    # Hay, where obliques are interleaved with trunk pieces)
    parent = None
    start = np.array([0.0, soma_L / 2.0, 0.0])
    trunk_ids = []
    for _, piece in enumerate(geometry["trunk"]):
        i = add(
            "apical",
            parent,
            start,
            up,
            piece["length_um"],
            piece["diam_um"],
            piece.get("diam_end_um"),
        )
        trunk_ids.append(i)
        parent, start = i, end(i)
    # obliques are added after the trunk so that the trunk is apic[0..]; pre-order is restored by
    # ordering children (oblique before trunk continuation) when numbering
    for j, piece in enumerate(geometry["trunk"]):
        if piece.get("oblique"):
            side = 1.0 if j % 2 == 0 else -1.0
            d = _unit(np.array([side * math.cos(0.3 * j), 0.6, math.sin(0.3 * j)]))
            grow("apical", trunk_ids[j], end(trunk_ids[j]), [d], piece["oblique"], k=j)
    # tuft: the nexus (end of the trunk) splits into two branches
    nexus = trunk_ids[-1]
    grow("apical", nexus, end(nexus), _branch_dirs(up, 0, 0.5), geometry["tuft"]["levels"], k=0)

    # order children: side branches (obliques) before the trunk continuation
    trunk_set = set(trunk_ids)
    for n in nodes:
        n["children"].sort(key=lambda c: (c in trunk_set, c))

    # number in depth-first pre-order per group
    order = {"basal": [], "apical": []}

    def visit(i):
        order[nodes[i]["group"]].append(i)
        for c in nodes[i]["children"]:
            visit(c)

    for i, n in enumerate(nodes):
        if n["parent"] is None:
            visit(i)

    soma = h.Section(name="soma[0]", cell=owner)
    h.pt3dadd(0.0, -soma_L / 2.0, 0.0, soma_d, sec=soma)
    h.pt3dadd(0.0, soma_L / 2.0, 0.0, soma_d, sec=soma)
    secs = {}
    groups = {"soma": [soma], "axon": [], "basal": [], "apical": []}
    for group in ("basal", "apical"):
        prefix = _GROUP_PREFIX[group]
        for k, i in enumerate(order[group]):
            n = nodes[i]
            sec = h.Section(name=f"{prefix}[{k}]", cell=owner)
            # a few points so the diameter taper is represented
            for f in np.linspace(0.0, 1.0, 5 if n["d0"] != n["d1"] else 2):
                p = n["start"] + f * n["L"] * n["dir"]
                h.pt3dadd(p[0], p[1], p[2], n["d0"] + f * (n["d1"] - n["d0"]), sec=sec)
            secs[i] = sec
            groups[group].append(sec)
    for i, n in enumerate(nodes):
        parent_seg = soma(0.5) if n["parent"] is None else secs[n["parent"]](1)
        secs[i].connect(parent_seg, 0)
    owner.sections = [soma] + groups["basal"] + groups["apical"]
    aliases = {"trunk_end": secs[nexus].name().split(".")[-1]}
    return Morphology(groups=groups, owner=owner, aliases=aliases)


# --------------------------------------------------------------------------- fetch


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_morphology(url: str | None, sha256: str, local_path, out_path) -> Path:
    """Copy a morphology to ``out_path`` after checking its sha256.

    ``local_path`` (if non-empty) is used instead of ``url``. ``url`` may be ``file://`` or
    ``https://``. A missing file, a failed download or a checksum mismatch raises
    ``MorphologyError`` naming the file/URL (and both checksums); the output is written atomically,
    so a failure leaves no file under ``out_path``.
    """
    out_path = Path(out_path)
    expected = (sha256 or "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise MorphologyError(f"morphology sha256 {sha256!r} is not 64 hex digits")
    with atomic_path(out_path) as tmp:
        if local_path:
            src = Path(local_path).expanduser()
            what = str(src)
            if not src.is_file():
                raise MorphologyError(f"morphology file {src} does not exist")
            tmp.write_bytes(src.read_bytes())
        else:
            if not url:
                raise MorphologyError("no morphology url and no local path given")
            what = url
            try:
                with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as fh:
                    while True:
                        chunk = resp.read(1 << 20)
                        if not chunk:
                            break
                        fh.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise MorphologyError(f"could not fetch morphology from {url}: {exc}") from exc
        got = _sha256_file(tmp)
        if got != expected:
            raise MorphologyError(
                f"morphology {what}: sha256 mismatch (expected {expected}, got {got})"
            )
    return out_path
