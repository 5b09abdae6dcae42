"""Cells described as data: the cell spec (YAML) and its validation.

A spec names the morphology source, passive properties and ion reversal potentials per section
group, channel densities per group (constants or distance rules), the discretisation rule, the
axon stub, synapse types and placement, the region rule (basal / oblique / tuft) and the nexus.
The format is documented in ``docs/cell_specs.md``; built-in specs live in ``cells/specs/``.

Section groups are the four kinds of section every morphology source produces: ``soma``, ``axon``,
``basal`` (Import3d's ``dend``, SWC type 3) and ``apical`` (``apic``, SWC type 4).

A spec of ``kind: model`` instead loads a modeller's published cell as it is: a hoc template or a
Python function builds it with its own mechanisms (``model.mechanisms``, compiled with
neurodepth's synapses), and ``model.sections`` names which of its section lists are the soma,
the basal and apical dendrites (and the axon). Such a spec gives no morphology, passive or channel
keys; regions, nexus, simulation and synapses mean what they mean for any spec.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from neurodepth.core.errors import ConfigError

SPEC_DIR = Path(__file__).resolve().parent / "specs"

#: The voltage every compartment starts from (finitialize) when a spec names none, mV.
DEFAULT_V_INIT_MV = -76.0

GROUPS = ("soma", "axon", "basal", "apical")
DENDRITIC_GROUPS = ("basal", "apical")
#: ``synapses.placement`` of the paper: one excitatory and one inhibitory synapse per segment.
EVERY_SEGMENT = "every_dendritic_segment"
REGIONS = ("basal", "oblique", "tuft")
KNOWN_MECHANISMS = (
    "NaTs2_t",
    "NaTa_t",
    "Nap_Et2",
    "K_Pst",
    "K_Tst",
    "SKv3_1",
    "SK_E2",
    "Im",
    "Ih",
    "Ca_HVA",
    "Ca_LVAst",
    "CaDynamics_E2",
)
RULES = {
    # rule name -> required parameter keys
    "constant": ("value",),
    "exponential_plateau": ("scale", "offset", "amplitude", "rate", "plateau_at", "normaliser"),
    "window": ("inside", "outside", "start_um", "end_um"),
    "linear": ("value_at_0", "slope_per_um"),
}
SEGMENT_POSITIONS = ("centre", "centre_last_uses_end")
PASSIVE_KEYS = ("cm", "g_pas", "e_pas", "Ra")


class SpecError(ConfigError):
    """A cell spec is malformed; the message names the spec and the key."""


@dataclass
class CellSpec:
    """A validated cell spec. ``raw`` keeps the YAML mapping for provenance."""

    name: str
    source_path: Path | None
    morphology: dict  # {source: file, format, path} or {source: stylized, geometry}
    axon_stub: dict  # {sections, length_um, diam_um}
    discretization: dict  # {rule: odd_per_length, length_um}
    simulation: dict  # {celsius, v_init_mv}
    passive: dict  # group -> {cm, g_pas, e_pas, Ra}
    ions: dict  # group -> {ena, ek, ...}
    channels: dict  # group -> mechanism -> param -> number | rule dict
    distance: dict  # {segment_position, round_decimals}
    regions: dict  # {rule: subtree, tuft_root: ...} or {rule: index_ranges, ...}
    nexus: dict | None  # {section, x}
    synapses: dict  # {excitatory: {variant: {mechanism, params}}, inhibitory: {...}}
    description: str = ""
    raw: dict = field(default_factory=dict, repr=False)
    # kind: model: {hoc: {file, template, args} | python: "module:function", mechanisms, sections}
    # with paths made absolute; None for a cell neurodepth builds from the keys above
    model: dict | None = None

    @property
    def morphology_path(self) -> Path | None:
        p = self.morphology.get("path")
        return Path(p) if p else None


def available_specs() -> list[str]:
    """Names of the built-in specs."""
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def _fail(spec_name: str, key: str, msg: str):
    raise SpecError(f"cell spec {spec_name!r}: key '{key}': {msg}")


def _require_mapping(spec_name, key, value) -> dict:
    if not isinstance(value, dict):
        _fail(spec_name, key, f"must be a mapping, got {type(value).__name__}")
    return value


def _require_number(spec_name, key, value, positive=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(spec_name, key, f"must be a number, got {value!r}")
    if positive and not value > 0:
        _fail(spec_name, key, f"must be > 0, got {value!r}")
    return float(value)


def _check_rule(spec_name, key, value):
    """A density value is a number or a {rule: ..., ...} mapping with that rule's keys."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return
    rule = _require_mapping(spec_name, key, value).get("rule")
    if rule not in RULES:
        _fail(spec_name, f"{key}.rule", f"unknown rule {rule!r}; expected one of {sorted(RULES)}")
    for req in RULES[rule]:
        if req not in value:
            _fail(spec_name, f"{key}.{req}", f"missing (rule {rule!r} needs {list(RULES[rule])})")
    for k, v in value.items():
        if k == "rule":
            continue
        if k not in RULES[rule]:
            _fail(spec_name, f"{key}.{k}", f"not a parameter of rule {rule!r}")
        if k == "normaliser":
            if v != "max_terminal_distance":
                _require_number(spec_name, f"{key}.{k}", v, positive=True)
        else:
            _require_number(spec_name, f"{key}.{k}", v)


def _validate_morphology(n, m, morphology_path):
    m = copy.deepcopy(_require_mapping(n, "morphology", m))
    source = m.get("source")
    if source == "file":
        fmt = m.get("format")
        if fmt not in ("asc", "swc"):
            _fail(n, "morphology.format", f"must be 'asc' or 'swc', got {fmt!r}")
        if morphology_path is not None:
            m["path"] = str(morphology_path)
        if m.get("path"):
            m["path"] = str(Path(m["path"]).expanduser())
    elif source == "stylized":
        geo = _require_mapping(n, "morphology.geometry", m.get("geometry"))
        for key in ("soma", "basal", "trunk", "tuft"):
            if key not in geo:
                _fail(n, f"morphology.geometry.{key}", "missing")
        soma = _require_mapping(n, "morphology.geometry.soma", geo["soma"])
        for k in ("length_um", "diam_um"):
            _require_number(n, f"morphology.geometry.soma.{k}", soma.get(k), positive=True)
        basal = _require_mapping(n, "morphology.geometry.basal", geo["basal"])
        if not isinstance(basal.get("stems"), int) or basal["stems"] < 1:
            _fail(n, "morphology.geometry.basal.stems", "must be an integer >= 1")
        _check_levels(n, "morphology.geometry.basal.levels", basal.get("levels"))
        trunk = geo["trunk"]
        if not isinstance(trunk, list) or not trunk:
            _fail(n, "morphology.geometry.trunk", "must be a non-empty list of pieces")
        for i, piece in enumerate(trunk):
            key = f"morphology.geometry.trunk[{i}]"
            piece = _require_mapping(n, key, piece)
            _require_number(n, f"{key}.length_um", piece.get("length_um"), positive=True)
            _require_number(n, f"{key}.diam_um", piece.get("diam_um"), positive=True)
            if piece.get("oblique") is not None:
                _check_levels(n, f"{key}.oblique", piece["oblique"])
        tuft = _require_mapping(n, "morphology.geometry.tuft", geo["tuft"])
        _check_levels(n, "morphology.geometry.tuft.levels", tuft.get("levels"))
    else:
        _fail(n, "morphology.source", f"must be 'file' or 'stylized', got {source!r}")
    return m


def _check_levels(n, key, levels):
    if not isinstance(levels, list) or not levels:
        _fail(n, key, "must be a non-empty list of {length_um, diam_um}")
    for i, lev in enumerate(levels):
        lev = _require_mapping(n, f"{key}[{i}]", lev)
        _require_number(n, f"{key}[{i}].length_um", lev.get("length_um"), positive=True)
        _require_number(n, f"{key}[{i}].diam_um", lev.get("diam_um"), positive=True)


MODEL_SECTION_LISTS = ("soma", "basal", "apical", "axon")
MODEL_TOP_KEYS = {
    "name",
    "description",
    "kind",
    "model",
    "simulation",
    "regions",
    "nexus",
    "synapses",
}


def _validate_model(n, model, base_dir: Path | None) -> dict:
    """``model`` of a ``kind: model`` spec, with its files resolved against the spec's folder."""
    model = copy.deepcopy(_require_mapping(n, "model", model))
    base = base_dir or Path.cwd()
    for key in model:
        if key not in ("hoc", "python", "mechanisms", "sections"):
            _fail(n, f"model.{key}", "unknown key; allowed: hoc, python, mechanisms, sections")
    if ("hoc" in model) == ("python" in model):
        _fail(n, "model", "give exactly one of 'hoc' (a template) or 'python' (module:function)")
    if "hoc" in model:
        hoc = _require_mapping(n, "model.hoc", model["hoc"])
        for key in hoc:
            if key not in ("file", "template", "args"):
                _fail(n, f"model.hoc.{key}", "unknown key; allowed: file, template, args")
        for key in ("file", "template"):
            if not isinstance(hoc.get(key), str) or not hoc[key]:
                _fail(n, f"model.hoc.{key}", "must be a non-empty string")
        hoc["file"] = str((base / hoc["file"]).resolve())
        args = hoc.setdefault("args", [])
        if not isinstance(args, list) or not all(
            isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args
        ):
            _fail(n, "model.hoc.args", "must be a list of strings and numbers")
    else:
        target = model["python"]
        if not isinstance(target, str) or target.count(":") != 1:
            _fail(n, "model.python", "must be 'module:function' or 'file.py:function'")
        module, function = target.split(":")
        if module.endswith(".py"):
            module = str((base / module).resolve())
        model["python"] = f"{module}:{function}"
    mechanisms = model.get("mechanisms")
    if mechanisms is not None:
        if not isinstance(mechanisms, str):
            _fail(n, "model.mechanisms", "must be the path of a folder of .mod files")
        model["mechanisms"] = str((base / mechanisms).resolve())
    sections = _require_mapping(n, "model.sections", model.get("sections"))
    for key, value in sections.items():
        if key not in MODEL_SECTION_LISTS:
            _fail(n, f"model.sections.{key}", f"unknown; allowed: {list(MODEL_SECTION_LISTS)}")
        if not isinstance(value, str) or not value:
            _fail(n, f"model.sections.{key}", "must name an attribute of the built cell")
    for key in ("soma", "basal", "apical"):
        if key not in sections:
            _fail(n, f"model.sections.{key}", "missing (the cell attribute holding those sections)")
    return model


def validate_spec(raw: dict, spec_name: str, source_path=None, morphology_path=None) -> CellSpec:
    """Check a spec mapping key by key and return a ``CellSpec``; raises ``SpecError``."""
    n = spec_name
    raw = _require_mapping(n, "<top level>", raw)
    kind = raw.get("kind", "neurodepth")
    if kind not in ("neurodepth", "model"):
        _fail(n, "kind", f"must be 'neurodepth' (the default) or 'model', got {kind!r}")
    if kind == "model":
        return _validate_model_spec(raw, n, source_path)
    known_top = {
        "name",
        "kind",
        "description",
        "morphology",
        "axon_stub",
        "discretization",
        "simulation",
        "passive",
        "ions",
        "channels",
        "distance",
        "regions",
        "nexus",
        "synapses",
    }
    for key in raw:
        if key not in known_top:
            _fail(n, key, f"unknown top-level key; allowed: {sorted(known_top)}")
    for key in ("name", "morphology", "passive", "channels", "regions", "synapses"):
        if key not in raw:
            _fail(n, key, "missing")
    name = raw["name"]
    if not isinstance(name, str) or not name:
        _fail(n, "name", "must be a non-empty string")

    morphology = _validate_morphology(n, raw["morphology"], morphology_path)

    axon = copy.deepcopy(raw.get("axon_stub") or {"sections": 2, "length_um": 30.0, "diam_um": 1.0})
    _require_mapping(n, "axon_stub", axon)
    if not isinstance(axon.get("sections"), int) or axon["sections"] < 0:
        _fail(n, "axon_stub.sections", "must be an integer >= 0")
    for k in ("length_um", "diam_um"):
        axon[k] = _require_number(n, f"axon_stub.{k}", axon.get(k), positive=True)

    disc = copy.deepcopy(raw.get("discretization") or {"rule": "odd_per_length", "length_um": 40.0})
    _require_mapping(n, "discretization", disc)
    if disc.get("rule") not in ("odd_per_length", "fixed"):
        _fail(
            n,
            "discretization.rule",
            "must be 'odd_per_length' (nseg = 1 + 2*int(L/length_um)) or 'fixed'",
        )
    if disc["rule"] == "odd_per_length":
        disc["length_um"] = _require_number(
            n, "discretization.length_um", disc.get("length_um"), positive=True
        )
    else:
        if not isinstance(disc.get("nseg"), int) or disc["nseg"] < 1:
            _fail(n, "discretization.nseg", "must be an integer >= 1")

    sim = _validate_simulation(n, raw.get("simulation"))

    passive = _require_mapping(n, "passive", copy.deepcopy(raw["passive"]))
    for g in GROUPS:
        if g not in passive:
            _fail(n, f"passive.{g}", "missing (every group needs cm, g_pas, e_pas, Ra)")
    for g, vals in passive.items():
        if g not in GROUPS:
            _fail(n, f"passive.{g}", f"unknown group; allowed: {list(GROUPS)}")
        _require_mapping(n, f"passive.{g}", vals)
        for k in PASSIVE_KEYS:
            if k not in vals:
                _fail(n, f"passive.{g}.{k}", "missing")
        for k, v in vals.items():
            if k not in PASSIVE_KEYS:
                _fail(
                    n,
                    f"passive.{g}.{k}",
                    f"unknown passive property; allowed: {list(PASSIVE_KEYS)}",
                )
            vals[k] = _require_number(n, f"passive.{g}.{k}", v, positive=(k != "e_pas"))

    ions = _require_mapping(n, "ions", copy.deepcopy(raw.get("ions") or {}))
    for g, vals in ions.items():
        if g not in GROUPS:
            _fail(n, f"ions.{g}", f"unknown group; allowed: {list(GROUPS)}")
        for k, v in _require_mapping(n, f"ions.{g}", vals).items():
            if k not in ("ena", "ek"):
                _fail(
                    n,
                    f"ions.{g}.{k}",
                    "only fixed ena and ek may be set (E_Ca is computed by Nernst)",
                )
            _require_number(n, f"ions.{g}.{k}", v)

    channels = _require_mapping(n, "channels", copy.deepcopy(raw["channels"]))
    for g, mechs in channels.items():
        if g not in GROUPS:
            _fail(n, f"channels.{g}", f"unknown group; allowed: {list(GROUPS)}")
        for mech, params in _require_mapping(n, f"channels.{g}", mechs or {}).items():
            if mech not in KNOWN_MECHANISMS:
                _fail(
                    n, f"channels.{g}.{mech}", f"unknown mechanism; known: {list(KNOWN_MECHANISMS)}"
                )
            for p, v in _require_mapping(n, f"channels.{g}.{mech}", params or {}).items():
                _check_rule(n, f"channels.{g}.{mech}.{p}", v)
        channels[g] = mechs or {}

    dist = copy.deepcopy(raw.get("distance") or {})
    _require_mapping(n, "distance", dist)
    dist.setdefault("segment_position", "centre")
    if dist["segment_position"] not in SEGMENT_POSITIONS:
        _fail(n, "distance.segment_position", f"must be one of {list(SEGMENT_POSITIONS)}")
    if dist.get("round_decimals") is not None and not isinstance(dist["round_decimals"], int):
        _fail(n, "distance.round_decimals", "must be an integer or null")
    for k in dist:
        if k not in ("segment_position", "round_decimals", "origin"):
            _fail(n, f"distance.{k}", "unknown key")
    if dist.get("origin", "soma_centre") != "soma_centre":
        _fail(n, "distance.origin", "only 'soma_centre' is supported")

    regions, nexus, syn = _validate_cell_wiring(n, raw)

    return CellSpec(
        name=name,
        source_path=Path(source_path) if source_path else None,
        morphology=morphology,
        axon_stub=axon,
        discretization=disc,
        simulation=sim,
        passive=passive,
        ions=ions,
        channels=channels,
        distance=dist,
        regions=regions,
        nexus=nexus,
        synapses=syn,
        description=str(raw.get("description", "")),
        raw=copy.deepcopy(raw),
    )


def _validate_simulation(n, sim) -> dict:
    sim = copy.deepcopy(sim or {})
    _require_mapping(n, "simulation", sim)
    sim.setdefault("celsius", 6.3)
    sim.setdefault("v_init_mv", DEFAULT_V_INIT_MV)
    for k in ("celsius", "v_init_mv"):
        sim[k] = _require_number(n, f"simulation.{k}", sim[k])
    return sim


def _validate_cell_wiring(n, raw) -> tuple[dict, dict | None, dict]:
    """``regions``, ``nexus`` and ``synapses``: what every kind of spec says about its inputs."""
    regions = _require_mapping(n, "regions", copy.deepcopy(raw["regions"]))
    rule = regions.get("rule")
    if rule == "subtree":
        if not isinstance(regions.get("tuft_root"), str):
            _fail(
                n,
                "regions.tuft_root",
                "must be a section name (e.g. 'apic[36]') or 'nexus_children'",
            )
    elif rule == "index_ranges":
        for reg in REGIONS:
            rngs = regions.get(reg)
            if not isinstance(rngs, list):
                _fail(n, f"regions.{reg}", "must be a list of [first, last] index pairs")
            for r in rngs:
                if not (isinstance(r, list) and len(r) == 2 and all(isinstance(i, int) for i in r)):
                    _fail(n, f"regions.{reg}", f"bad range {r!r}; expected [first, last]")
    else:
        _fail(n, "regions.rule", f"must be 'subtree' or 'index_ranges', got {rule!r}")

    nexus = raw.get("nexus")
    if nexus is not None:
        _require_mapping(n, "nexus", nexus)
        if not isinstance(nexus.get("section"), str):
            _fail(n, "nexus.section", "must be a section name such as 'apic[50]' or 'trunk_end'")
        nexus = dict(nexus)
        nexus["x"] = _require_number(n, "nexus.x", nexus.get("x", 1.0))

    syn = _require_mapping(n, "synapses", copy.deepcopy(raw["synapses"]))
    syn["placement"] = _validate_placement(n, syn.get("placement", EVERY_SEGMENT))
    exc = _require_mapping(n, "synapses.excitatory", syn.get("excitatory"))
    for variant in ("full", "no_nmda"):
        if variant not in exc:
            _fail(n, f"synapses.excitatory.{variant}", "missing")
    for variant, entry in exc.items():
        _check_synapse(n, f"synapses.excitatory.{variant}", entry)
    _check_synapse(n, "synapses.inhibitory", syn.get("inhibitory"))

    return regions, nexus, syn


def _validate_model_spec(raw: dict, n: str, source_path) -> CellSpec:
    for key in raw:
        if key not in MODEL_TOP_KEYS:
            _fail(n, key, f"unknown key for kind 'model'; allowed: {sorted(MODEL_TOP_KEYS)}")
    for key in ("name", "model", "regions", "synapses"):
        if key not in raw:
            _fail(n, key, "missing")
    if not isinstance(raw["name"], str) or not raw["name"]:
        _fail(n, "name", "must be a non-empty string")
    base = Path(source_path).resolve().parent if source_path else None
    model = _validate_model(n, raw["model"], base)
    regions, nexus, syn = _validate_cell_wiring(n, raw)
    return CellSpec(
        name=raw["name"],
        source_path=Path(source_path) if source_path else None,
        morphology={"source": "model"},
        axon_stub={},
        discretization={},
        simulation=_validate_simulation(n, raw.get("simulation")),
        passive={},
        ions={},
        channels={},
        distance={"segment_position": "centre"},
        regions=regions,
        nexus=nexus,
        synapses=syn,
        description=str(raw.get("description", "")),
        raw=copy.deepcopy(raw),
        model=model,
    )


def _validate_placement(n, placement):
    """``every_dendritic_segment`` or ``{per_um: >0, max_synapses: int >= 1 (optional)}``."""
    key = "synapses.placement"
    if placement == EVERY_SEGMENT:
        return placement
    if not isinstance(placement, dict):
        _fail(n, key, f"must be {EVERY_SEGMENT!r} or a mapping {{per_um, max_synapses}}")
    unknown = sorted(set(placement) - {"per_um", "max_synapses"})
    if unknown:
        _fail(n, key, f"unknown keys {unknown}; expected per_um and optionally max_synapses")
    out = {"per_um": _require_number(n, f"{key}.per_um", placement.get("per_um"), positive=True)}
    cap = placement.get("max_synapses")
    if cap is not None:
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            _fail(n, f"{key}.max_synapses", f"must be an integer >= 1, got {cap!r}")
        out["max_synapses"] = cap
    return out


def _check_synapse(n, key, entry):
    entry = _require_mapping(n, key, entry)
    if entry.get("mechanism") not in ("nd_AMPANMDA", "nd_AMPA", "nd_GABAA"):
        _fail(n, f"{key}.mechanism", "must be one of nd_AMPANMDA, nd_AMPA, nd_GABAA")
    for p, v in _require_mapping(n, f"{key}.params", entry.get("params") or {}).items():
        _require_number(n, f"{key}.params.{p}", v)


def spec_path(name_or_path) -> Path:
    """The YAML file of a built-in spec name (``stylized_l5pc``) or of a spec path."""
    s = str(name_or_path)
    path = Path(s)
    if not (s.endswith((".yaml", ".yml")) or path.exists()):
        path = SPEC_DIR / f"{s}.yaml"
        if not path.exists():
            raise SpecError(
                f"cell spec {s!r}: no such built-in spec (available: {available_specs()}) "
                "and no such file"
            )
    if not path.exists():
        raise SpecError(f"cell spec file {path} does not exist")
    return path


def spec_needs_morphology(name_or_path) -> bool:
    """Whether the spec's morphology is an external file it gives no path for, i.e. one the
    pipeline must fetch (config ``cell.morphology``) and pass as ``morphology_path``."""
    m = load_cell_spec(name_or_path).morphology
    return m["source"] == "file" and not m.get("path")


def load_cell_spec(name_or_path, morphology_path=None) -> CellSpec:
    """Load a built-in spec by name (``stylized_l5pc``) or a spec YAML by path.

    ``morphology_path`` overrides ``morphology.path`` of a file-based spec (the pipeline passes
    the fetched, checksum-verified copy here).
    """
    path = spec_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"cell spec {path}: not valid YAML: {exc}") from exc
    return validate_spec(
        raw, spec_name=str(path), source_path=path, morphology_path=morphology_path
    )
