"""Cell specs: built-in specs load, bad specs fail naming the key, fetch and import errors."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from neurodepth.cells.morphology import fetch_morphology, odd_nseg
from neurodepth.cells.spec import (
    SPEC_DIR,
    SpecError,
    available_specs,
    load_cell_spec,
    spec_needs_morphology,
    spec_path,
)
from neurodepth.core.errors import ConfigError, MorphologyError


def test_builtin_specs_load():
    assert {"hay2011_l5pc", "stylized_l5pc"} <= set(available_specs())
    hay = load_cell_spec("hay2011_l5pc")
    assert hay.morphology["source"] == "file" and hay.morphology_path is None
    assert hay.channels["apical"]["Ca_LVAst"]["gbar"]["inside"] == pytest.approx(0.2271264)
    assert hay.passive["basal"] == {"cm": 2.0, "g_pas": 6e-5, "e_pas": -90.0, "Ra": 100.0}
    assert hay.synapses["inhibitory"]["params"]["gmax"] == pytest.approx(0.001)
    sty = load_cell_spec("stylized_l5pc")
    assert sty.morphology["source"] == "stylized"
    # the stylized cell has the same channel set as Hay, per group
    assert {g: set(m) for g, m in sty.channels.items()} == {
        g: set(m) for g, m in hay.channels.items()
    }


def test_morphology_path_override(tmp_path):
    spec = load_cell_spec("hay2011_l5pc", morphology_path=tmp_path / "x.asc")
    assert spec.morphology_path == tmp_path / "x.asc"


def test_spec_needs_morphology(tmp_path):
    assert spec_needs_morphology("hay2011_l5pc")
    assert not spec_needs_morphology("stylized_l5pc")
    assert spec_path("stylized_l5pc") == SPEC_DIR / "stylized_l5pc.yaml"
    raw = yaml.safe_load((SPEC_DIR / "hay2011_l5pc.yaml").read_text())
    raw["morphology"]["path"] = str(tmp_path / "cell1.asc")
    given = tmp_path / "with_path.yaml"
    given.write_text(yaml.safe_dump(raw))
    assert not spec_needs_morphology(given)
    assert spec_needs_morphology(str(SPEC_DIR / "hay2011_l5pc.yaml"))
    with pytest.raises(SpecError, match="no such built-in spec"):
        spec_needs_morphology("no_such_cell")


def test_builtin_variants_registered_without_neuron():
    """Importing the registry must not start NEURON (the workflow imports it at start-up)."""
    import subprocess
    import sys

    code = (
        "import sys; from neurodepth.cells.variants import VARIANTS; "
        "assert 'neuron' not in sys.modules, 'neuron imported'; print(','.join(VARIANTS))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "full,no_nmda,no_branching,lif"


def test_variant_entries():
    from neurodepth.cells.lif import N_EXC, N_INH
    from neurodepth.cells.variants import VARIANTS, PointModel, Variant

    assert [VARIANTS[v].uses_neuron for v in VARIANTS] == [True, True, True, False]
    assert VARIANTS["lif"].fixed_channels == (N_EXC, N_INH) == (80, 20)
    assert all(VARIANTS[v].fixed_channels is None for v in ("full", "no_nmda", "no_branching"))
    assert VARIANTS["no_nmda"].compact_label == "AMPA\nonly"
    assert VARIANTS["full"].compact_label == "full"
    with pytest.raises(ConfigError, match="unknown cell variant 'nope'"):
        VARIANTS["nope"]
    with pytest.raises(ConfigError, match="needs build"):
        Variant("x", "x", "x", "k", True)
    model = VARIANTS["lif"].point_model
    assert isinstance(model, PointModel)
    with pytest.raises(ConfigError, match="needs point_model"):
        Variant("x", "x", "x", "k", False, build=lambda spec: None)


def test_build_cell_rejects_unknown_synapse_set():
    from neurodepth.cells.builder import build_cell

    with pytest.raises(ConfigError, match="no excitatory synapse set 'no_branching'"):
        build_cell(load_cell_spec("stylized_l5pc"), "no_branching")


def _write(tmp_path, mutate):
    raw = yaml.safe_load((SPEC_DIR / "stylized_l5pc.yaml").read_text())
    mutate(raw)
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda r: r["passive"]["soma"].pop("cm"), "passive.soma.cm"),
        (lambda r: r["channels"]["apical"].update(NaX={"gbar": 1.0}), "channels.apical.NaX"),
        (
            lambda r: r["channels"]["apical"]["Ih"]["gbar"].pop("rate"),
            "channels.apical.Ih.gbar.rate",
        ),
        (
            lambda r: r["channels"]["apical"]["Ih"]["gbar"].update(rule="cubic"),
            "channels.apical.Ih.gbar.rule",
        ),
        (lambda r: r["morphology"].update(source="ftp"), "morphology.source"),
        (
            lambda r: r["morphology"]["geometry"]["basal"].update(stems=0),
            "morphology.geometry.basal.stems",
        ),
        (lambda r: r["synapses"]["excitatory"].pop("no_nmda"), "synapses.excitatory.no_nmda"),
        (lambda r: r.update(colour="red"), "colour"),
        (lambda r: r["regions"].update(rule="by_magic"), "regions.rule"),
        (lambda r: r["discretization"].update(length_um=-3), "discretization.length_um"),
    ],
)
def test_bad_spec_names_the_key(tmp_path, mutate, key):
    with pytest.raises(SpecError) as info:
        load_cell_spec(_write(tmp_path, mutate))
    assert f"'{key}'" in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_unknown_spec_name():
    with pytest.raises(SpecError, match="no_such_cell"):
        load_cell_spec("no_such_cell")


def test_nseg_rule():
    assert [odd_nseg(L, 40) for L in (10, 39.9, 40, 79.9, 80, 151.65)] == [1, 1, 3, 3, 5, 7]


def test_fetch_morphology_file_url(tmp_path):
    src = tmp_path / "cell.asc"
    src.write_bytes(b'("CellBody"\r\n (1 2 3 4)\r\n)\r\n')
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "resources" / "cell.asc"
    assert fetch_morphology(src.as_uri(), digest, "", out) == out
    assert out.read_bytes() == src.read_bytes()
    # local path wins over the URL
    out2 = tmp_path / "resources" / "cell2.asc"
    fetch_morphology("https://example.invalid/x.asc", digest, str(src), out2)
    assert out2.read_bytes() == src.read_bytes()


def test_fetch_morphology_checksum_mismatch(tmp_path):
    src = tmp_path / "cell.asc"
    src.write_bytes(b"not the right bytes")
    wrong = "0" * 64
    out = tmp_path / "out.asc"
    with pytest.raises(MorphologyError) as info:
        fetch_morphology(src.as_uri(), wrong, None, out)
    msg = str(info.value)
    assert src.as_uri() in msg and wrong in msg
    assert hashlib.sha256(src.read_bytes()).hexdigest() in msg
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_fetch_morphology_missing_file(tmp_path):
    missing = tmp_path / "nowhere.asc"
    with pytest.raises(MorphologyError, match="nowhere.asc"):
        fetch_morphology(missing.as_uri(), "a" * 64, None, tmp_path / "o.asc")
    with pytest.raises(MorphologyError, match="nowhere.asc"):
        fetch_morphology(None, "a" * 64, str(missing), tmp_path / "o.asc")
    assert not (tmp_path / "o.asc").exists()


def test_fetch_real_morphology_checksum(tmp_path, hay_morphology_path):
    sha = "a8afc0925afec1dd9241528ee6ccfdcb1c321904d876835990592c2573567383"
    out = fetch_morphology(hay_morphology_path.as_uri(), sha, "", tmp_path / "cell1.asc")
    assert out.stat().st_size == 396544
