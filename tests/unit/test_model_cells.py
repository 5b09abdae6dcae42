"""A modeller's own neuron (cell specs of ``kind: model``): the spec, its mechanism library, the
cell built from a hoc template, and ``neurodepth check-cell``.

NEURON holds one mechanism library per process and the test session's is neurodepth's own, so
every test that loads the model's library runs in a subprocess of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from user_model import SPEC, TEMPLATE, write_user_model

from neurodepth.cells.mechanisms_build import (
    compile_mechanisms,
    declared_mechanisms,
    mechanism_sources,
    synapse_mod_files,
)
from neurodepth.cells.spec import SpecError, load_cell_spec, spec_needs_morphology
from neurodepth.core.errors import MechanismError

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture()
def model(tmp_path) -> Path:
    return write_user_model(tmp_path / "published_model")


@pytest.fixture(scope="module")
def model_library(tmp_path_factory) -> Path:
    """The model's mechanisms compiled once (compiling does not load them here)."""
    spec = load_cell_spec(write_user_model(tmp_path_factory.mktemp("library_model")))
    return compile_mechanisms(tmp_path_factory.mktemp("model_mechanisms"), mechanism_sources(spec))


def _run_python(code: str, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=TESTS,
    )


def test_model_spec_resolves_its_files_against_its_folder(model):
    spec = load_cell_spec(model)
    folder = model.parent.resolve()
    assert spec.model["hoc"] == {
        "file": str(folder / "template.hoc"),
        "template": "DemoCell",
        "args": ["morphology/cell.swc"],
    }
    assert spec.model["mechanisms"] == str(folder / "mechanisms")
    assert spec.model["sections"]["apical"] == "apical"
    assert not spec_needs_morphology(model)  # the template reads its own morphology
    assert spec.simulation == {"celsius": 6.3, "v_init_mv": -70.0}
    assert spec.synapses["excitatory"]["no_nmda"]["mechanism"] == "nd_AMPA"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("  sections: {soma: somatic, basal: basal, apical: apical, axon: axonal}\n", ""),
            r"key 'model\.sections': must be a mapping",
        ),
        (("apical: apical, axon", "axon"), r"key 'model\.sections\.apical': missing"),
        (
            ("  mechanisms: mechanisms\n", "  mechanisms: mechanisms\n  python: m.py:build\n"),
            r"key 'model': give exactly one of 'hoc'",
        ),
        (
            ("kind: model\n", "kind: model\npassive: {}\n"),
            r"key 'passive': unknown key for kind 'model'",
        ),
        (("kind: model", "kind: modell"), r"key 'kind': must be 'neurodepth'"),
    ],
)
def test_model_spec_errors_name_the_key(tmp_path, edit, message):
    spec = write_user_model(tmp_path, spec_text=SPEC.replace(*edit))
    with pytest.raises(SpecError, match=message):
        load_cell_spec(spec)


def test_declared_mechanisms_read_the_neuron_block(tmp_path):
    mod = tmp_path / "x.mod"
    mod.write_text(
        "COMMENT\nSUFFIX not_this\nENDCOMMENT\n: POINT_PROCESS nor_this\n"
        "NEURON {\n  POINT_PROCESS MySyn  : a synapse\n  RANGE g\n}\n"
    )
    assert declared_mechanisms(mod) == [("POINT_PROCESS", "MySyn")]
    names = {n for p in synapse_mod_files() for _, n in declared_mechanisms(p)}
    assert names == {"nd_AMPA", "nd_AMPANMDA", "nd_GABAA"}


def test_library_holds_the_models_mods_and_neurodepths_synapses(model):
    sources = mechanism_sources(load_cell_spec(model))
    assert [p.name for p in sources] == [
        "udemo_ks.mod",
        "nd_AMPA.mod",
        "nd_AMPANMDA.mod",
        "nd_GABAA.mod",
    ]
    # none of neurodepth's Hay channels: the model brings its own
    assert not any(p.name == "NaTs2_t.mod" for p in sources)


def test_a_mechanism_name_clash_names_both_files(model):
    own = model.parent / "mechanisms" / "my_ampa.mod"
    own.write_text("NEURON {\n  POINT_PROCESS nd_AMPA\n  RANGE gmax\n}\n")
    with pytest.raises(MechanismError) as info:
        mechanism_sources(load_cell_spec(model))
    text = str(info.value)
    assert "POINT_PROCESS nd_AMPA is declared by both" in text
    assert str(own) in text and "cells/mechanisms/nd_AMPA.mod" in text


def test_a_missing_mechanism_folder_names_the_key(model):
    spec = model.read_text().replace("mechanisms: mechanisms", "mechanisms: mods")
    model.write_text(spec)
    with pytest.raises(MechanismError, match=r"key 'model\.mechanisms': no folder .*mods"):
        mechanism_sources(load_cell_spec(model))


@pytest.mark.slow
def test_the_model_builds_as_every_variant(model, model_library):
    result = _run_python(
        f"""
        import json
        from neuron import h
        from neurodepth.cells.mechanisms_build import load_mechanisms
        from neurodepth.cells.spec import load_cell_spec
        from neurodepth.cells.variants import build_variant
        load_mechanisms({str(model_library)!r})
        spec = load_cell_spec({str(model)!r})
        out = {{}}
        for variant in ("full", "no_nmda", "no_branching"):
            cell = build_variant(spec, variant)
            table = cell.segment_table
            out[variant] = dict(
                segments=len(cell.segments),
                regions=table.groupby("section")["region"].first().to_dict(),
                exc=sorted({{s.hname().split("[")[0] for s in cell.exc_synapses}}),
                inh=sorted({{s.hname().split("[")[0] for s in cell.inh_synapses}}),
                nexus=cell.nexus_seg.sec.name(),
                custom=all(s.sec.has_membrane("udemo_ks") for s in cell.segments),
            )
            if variant == "full":
                nseg = sum(sec.nseg for sec in h.allsec() if ".dend[" in sec.name()
                           or ".apic[" in sec.name())
                out["nseg"] = nseg
                h.finitialize(cell.v_init_mv)
                h.continuerun(500)
                out["rest"] = cell.soma_seg.v
        print(json.dumps(out))
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    full = out["full"]
    assert full["segments"] == out["nseg"] == 73  # one synapse pair per dendritic segment
    assert full["exc"] == ["nd_AMPANMDA"] and full["inh"] == ["nd_GABAA"]
    assert out["no_nmda"]["exc"] == ["nd_AMPA"]
    # the tuft is what lies beyond the nexus (the end of apic[2])
    assert full["regions"] == {
        "dend[0]": "basal",
        "dend[1]": "basal",
        "dend[2]": "basal",
        "dend[3]": "basal",
        "apic[0]": "oblique",
        "apic[1]": "oblique",
        "apic[2]": "oblique",
        "apic[3]": "tuft",
        "apic[4]": "tuft",
    }
    assert full["nexus"].endswith(".apic[2]") and full["custom"]
    assert -72.0 < out["rest"] < -69.0
    # the reduction keeps one entry per original segment, on its cylinders
    reduced = out["no_branching"]
    assert reduced["segments"] == 73 and reduced["regions"] == full["regions"]
    assert ".cyl_apic[0]" in reduced["nexus"]
    assert reduced["custom"]  # the cylinders carry the model's own channel


def _build_in_subprocess(spec, library, error: str) -> subprocess.CompletedProcess:
    """Build the spec's full cell in a process of its own; an ``error`` (a class of
    ``neurodepth.core.errors``) is printed as ``ERROR: <message>``."""
    return _run_python(
        f"""
        from neurodepth.cells.mechanisms_build import load_mechanisms
        from neurodepth.cells.spec import load_cell_spec
        from neurodepth.cells.variants import build_variant
        from neurodepth.core.errors import {error}
        load_mechanisms({str(library)!r})
        try:
            build_variant(load_cell_spec({str(spec)!r}), "full")
        except {error} as exc:
            print("ERROR:", exc)
        """
    )


@pytest.mark.slow
def test_a_template_that_fails_to_load_names_the_file_and_hocs_message(tmp_path, model_library):
    broken = TEMPLATE.replace("proc biophysics() {", "proc biophysics() { x = = 1")
    spec = write_user_model(tmp_path, template=broken)
    result = _build_in_subprocess(spec, model_library, "ConfigError")
    assert "ERROR: cell spec" in result.stdout, result.stderr[-2000:]
    assert f"hoc file {tmp_path.resolve() / 'template.hoc'} failed to load" in result.stdout
    assert "syntax error" in result.stdout  # NEURON's own words, read from its stderr


@pytest.mark.slow
def test_empty_dendrite_lists_are_refused(tmp_path, model_library):
    # the spec points the dendrites at a list the template leaves empty
    with_unused_list = (
        TEMPLATE.replace("public all,", "public unused, all,")
        .replace("objref all,", "objref unused, all,")
        .replace(
            "    all = new SectionList()",
            "    unused = new SectionList()\n    all = new SectionList()",
        )
    )
    spec = write_user_model(
        tmp_path,
        spec_text=SPEC.replace("basal: basal, apical: apical", "basal: unused, apical: unused"),
        template=with_unused_list,
    )
    result = _build_in_subprocess(spec, model_library, "NeurodepthError")
    assert "ERROR: cell spec" in result.stdout, result.stderr[-2000:]
    assert "dendrite lists ('unused', 'unused') hold no section" in result.stdout


def _check_cell(spec, library, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "neurodepth.ops.cli",
            "check-cell",
            str(spec),
            "--mechanisms",
            str(library),
            "--config",
            str(TESTS / "e2e" / "tiny_config.yaml"),
            "--duration-ms",
            "300",
            "--simulations",
            "1",
            "--steps-na",
            "0.3",
            "1.0",
            "--skip-calibration",
            "--skip-integration",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_check_cell_reports_what_a_modeller_checks(model, model_library):
    result = _check_cell(model, model_library)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    out = result.stdout
    assert "demo_cell (full): 73 dendritic segments, 73 synapse sites" in out
    # columns: segments, length_um, sites, synapses (one exc + one inh per site), sites_per_um
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()}
    assert rows[("basal", "basal")][0] == "22" and rows[("basal", "basal")][2:4] == ["22", "44"]
    assert rows[("apical", "tuft")][0] == "20" and rows[("apical", "tuft")][2:4] == ["20", "40"]
    rest = float(out.split("without input): ")[1].split(" mV")[0])
    assert -72.0 < rest < -69.0
    steps = {
        line.split(" nA")[0].strip(): int(line.split(": ")[1].split()[0])
        for line in out.splitlines()
        if " nA for " in line
    }
    assert steps["1"] > steps["0.3"] > 10  # a repetitively firing soma


@pytest.mark.slow
def test_check_cell_fails_on_a_cell_that_never_fires(tmp_path, model_library):
    # no sodium channel anywhere: the soma and axon keep only their leak
    silent = TEMPLATE.replace(
        "insert hh  gnabar_hh = 0.3  gkbar_hh = 0.036  gl_hh = 0.0001  el_hh = -70", "insert pas"
    ).replace("insert hh  gnabar_hh = 0.2  gkbar_hh = 0.04  gl_hh = 0.0001  el_hh = -70", "")
    assert "hh" not in silent
    # and weak synapses: a passive cell driven hard enough still crosses the spike threshold once
    spec = write_user_model(
        tmp_path, spec_text=SPEC.replace("gmax: 0.0006", "gmax: 0.00001"), template=silent
    )
    result = _check_cell(spec, model_library)
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    assert "demo_cell never fired at the most excitatory inputs of inputs.full" in result.stdout
