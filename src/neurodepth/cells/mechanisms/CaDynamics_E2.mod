: Free calcium in a thin shell under the membrane, for the Hay et al. 2011 cell (5b parameters);
: facts sheet section 2.12. The shell takes the compartment's summed Ca current (a fraction
: `gamma` of the entering calcium stays free) and leaks back to the floor `minCai` with time
: constant `decay`. Owning cai is what makes NEURON recompute eca by Nernst at every step.
:
: There is deliberately no INITIAL block: the reference protocol starts cai at NEURON's ion
: default (cai0_ca_ion, 5e-5 mM), below the floor, and the cell specs rely on that.

NEURON {
    SUFFIX CaDynamics_E2
    USEION ca READ ica WRITE cai
    : the cell specs set gamma and decay per region; depth and minCai keep their defaults
    RANGE gamma, decay, depth, minCai
}

UNITS {
    (mA) = (milliamp)
    (um) = (micron)
    (mM) = (milli/liter)
    : NEURON's CODATA value in C/mol; the 1e4 below converts the rest of the units
    FARADAY = (faraday) (coulombs)
}

PARAMETER {
    gamma = 0.05 (1)
    decay = 80 (ms)
    depth = 0.1 (um)
    minCai = 1e-4 (mM)
}

ASSIGNED {
    ica (mA/cm2)
}

STATE {
    cai (mM)
}

BREAKPOINT {
    SOLVE shell METHOD cnexp
}

DERIVATIVE shell {
    cai' = entry(ica) - (cai - minCai)/decay
}

: Rate at which the current raises the shell's free calcium, in mM/ms. Outward current is
: positive in NEURON, hence the sign: an inward (negative) ica adds calcium. Kept as one
: product in this order so that the compiled arithmetic matches the published update exactly.
FUNCTION entry(current (mA/cm2)) (mM/ms) {
    entry = -(10000)*(current*gamma/(2*FARADAY*depth))
}
