"""Cell specs: built-in specs load, bad specs fail naming the key, fetch and import errors."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from neurodepth.cells.morphology import fetch_morphology, odd_nseg
from neurodepth.cells.spec import SPEC_DIR, SpecError, available_specs, load_cell_spec
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
