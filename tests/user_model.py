"""A small neuron model written the way modellers publish one, for tests of ``kind: model`` specs.

``write_user_model(folder)`` writes:

- ``morphology/cell.swc``: a soma, two basal stems (one branching), an apical trunk with two tuft
  branches and an oblique, and an axon;
- ``mechanisms/udemo_ks.mod``: a slow voltage-gated potassium channel neurodepth does not ship;
- ``template.hoc``: template ``DemoCell`` taking the morphology path, importing it with
  Import3d, with section lists ``somatic``, ``basal``, ``apical`` and ``axonal``; Hodgkin-Huxley
  spikes at the soma and axon (NEURON's built-in ``hh``), the slow K channel on the dendrites;
- ``cell_spec.yaml``: the neurodepth spec pointing at all of it (``kind: model``).
"""

from __future__ import annotations

from pathlib import Path

SWC = """\
# soma, basal (type 3), apical (type 4), axon (type 2); x y z radius parent
1 1 0 0 0 10 -1
2 1 0 10 0 10 1
3 2 0 -10 0 0.5 1
4 2 0 -60 0 0.5 3
5 3 10 0 0 1.0 1
6 3 80 -20 0 0.8 5
7 3 130 -60 0 0.5 6
8 3 140 30 0 0.5 6
9 3 -10 0 0 1.0 1
10 3 -90 -20 0 0.7 9
11 4 0 20 0 1.8 2
12 4 0 200 0 1.5 11
13 4 40 260 0 0.6 12
14 4 0 400 0 1.2 12
15 4 -80 520 0 0.6 14
16 4 80 540 0 0.6 14
"""

SLOW_K_MOD = """\
COMMENT
A slow, non-inactivating potassium current (first-order gate n), a test channel that
neurodepth does not ship.
ENDCOMMENT

NEURON {
    SUFFIX udemo_ks
    USEION k READ ek WRITE ik
    RANGE gbar
}

UNITS {
    (mV) = (millivolt)
    (mA) = (milliamp)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.0003 (S/cm2)
    half_mv = -45 (mV)
    slope_mv = 6 (mV)
    tau_ms = 80 (ms)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    n_inf
}

STATE { n }

BREAKPOINT {
    SOLVE gate METHOD cnexp
    ik = gbar * n * (v - ek)
}

INITIAL {
    n_inf = 1 / (1 + exp(-(v - half_mv) / slope_mv))
    n = n_inf
}

DERIVATIVE gate {
    n_inf = 1 / (1 + exp(-(v - half_mv) / slope_mv))
    n' = (n_inf - n) / tau_ms
}
"""

TEMPLATE = """\
// DemoCell: a small pyramidal-like cell built from an SWC file, as published models are.
load_file("import3d.hoc")

begintemplate DemoCell
public soma, dend, apic, axon
public all, somatic, basal, apical, axonal
objref all, somatic, basal, apical, axonal, this
create soma[1], dend[1], apic[1], axon[1]

proc init() { local nd
    all = new SectionList()
    somatic = new SectionList()
    basal = new SectionList()
    apical = new SectionList()
    axonal = new SectionList()
    load_morphology($s1)
    forsec all { nseg = 1 + 2 * int(L / 30) }
    biophysics()
}

proc load_morphology() { localobj reader, gui
    reader = new Import3d_SWC_read()
    reader.input($s1)
    gui = new Import3d_GUI(reader, 0)
    gui.instantiate(this)
    forsec "soma" { somatic.append() }
    forsec "dend" { basal.append() }
    forsec "apic" { apical.append() }
    forsec "axon" { axonal.append() }
    forall all.append()
}

proc biophysics() {
    forall { insert pas  cm = 1  Ra = 120  g_pas = 5e-5  e_pas = -70 }
    forsec somatic { insert hh  gnabar_hh = 0.3  gkbar_hh = 0.036  gl_hh = 0.0001  el_hh = -70 }
    forsec axonal { insert hh  gnabar_hh = 0.2  gkbar_hh = 0.04  gl_hh = 0.0001  el_hh = -70 }
    forsec basal { insert udemo_ks }
    forsec apical { insert udemo_ks  cm = 2 }
}
endtemplate DemoCell
"""

SPEC = """\
name: demo_cell
kind: model
description: a small published-style model (hoc template + SWC + one custom channel)
model:
  hoc:
    file: template.hoc
    template: DemoCell
    args: [morphology/cell.swc]
  mechanisms: mechanisms
  sections: {soma: somatic, basal: basal, apical: apical, axon: axonal}
simulation: {celsius: 6.3, v_init_mv: -70}
regions: {rule: subtree, tuft_root: nexus_children}
nexus: {section: "apic[2]", x: 1.0}
synapses:
  excitatory:
    full:
      mechanism: nd_AMPANMDA
      params: {tau_r_AMPA: 0.3, tau_d_AMPA: 3.0, tau_r_NMDA: 2.0, tau_d_NMDA: 70.0,
               gmax: 0.0006, e: 0.0, mg: 1.0}
    no_nmda:
      mechanism: nd_AMPA
      params: {tau_r: 0.3, tau_d: 3.0, gmax: 0.0006, e: 0.0}
  inhibitory:
    mechanism: nd_GABAA
    params: {tau_r: 0.2, tau_d: 8.0, gmax: 0.001, e: -80.0}
"""


def write_user_model(folder: Path, spec_text: str = SPEC, template: str = TEMPLATE) -> Path:
    """Write the model into ``folder``; return the spec's path."""
    folder = Path(folder)
    (folder / "morphology").mkdir(parents=True, exist_ok=True)
    (folder / "mechanisms").mkdir(exist_ok=True)
    (folder / "morphology" / "cell.swc").write_text(SWC)
    (folder / "mechanisms" / "udemo_ks.mod").write_text(SLOW_K_MOD)
    (folder / "template.hoc").write_text(template)
    spec = folder / "cell_spec.yaml"
    spec.write_text(spec_text)
    return spec
