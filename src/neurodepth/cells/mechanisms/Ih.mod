: Hyperpolarisation-activated cation current (Hay et al. 2011, 5b set); facts sheet section 2.9.
: Non-specific current with its own reversal ehcn; no temperature factor.

NEURON {
    SUFFIX Ih
    NONSPECIFIC_CURRENT ihcn
    RANGE gbar, g, ihcn, ehcn, vhalf, vshift
    RANGE mInf, mTau
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0.00001 (S/cm2)
    ehcn = -45.0 (mV)
    vhalf = -154.9 (mV)
    vshift = 0 (mV)
}

ASSIGNED {
    v (mV)
    ihcn (mA/cm2)
    g (S/cm2)
    mInf
    mTau (ms)
}

STATE { m }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar*m
    ihcn = g*(v - ehcn)
}

DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
}

INITIAL {
    rates(v)
    m = mInf
}

FUNCTION linoid(y, s) {
    : y/(1 - exp(-y/s)), with limit s at y = 0
    if (fabs(y/s) < 1e-6) {
        linoid = s*(1 + y/(2*s))
    } else {
        linoid = y/(1 - exp(-y/s))
    }
}

PROCEDURE rates(v (mV)) {
    LOCAL a, b
    : 6.43e-3*u/(exp(u/11.9) - 1) with u = v - (vhalf + vshift)
    a = 0.001*6.43*linoid(-(v - (vhalf + vshift)), 11.9)
    b = 0.001*193*exp((v - vshift)/33.1)
    mInf = a/(a + b)
    mTau = 1/(a + b)
}
