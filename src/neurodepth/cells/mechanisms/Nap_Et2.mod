: Persistent Na current of the axon (Hay et al. 2011, 5b set); facts sheet section 2.3.
: m's time constant reuses the NaTa_t rates; h_inf is a Boltzmann, not alpha/(alpha+beta).

NEURON {
    SUFFIX Nap_Et2
    USEION na READ ena WRITE ina
    RANGE gbar, g, ina
    RANGE mInf, mTau, hInf, hTau
}

UNITS {
    (S) = (siemens)
    (mV) = (millivolt)
    (mA) = (milliamp)
}

PARAMETER {
    gbar = 0.00001 (S/cm2)
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
    g (S/cm2)
    mInf
    mTau (ms)
    hInf
    hTau (ms)
}

STATE { m h }

BREAKPOINT {
    SOLVE states METHOD cnexp
    g = gbar*m*m*m*h
    ina = g*(v - ena)
}

DERIVATIVE states {
    rates(v)
    m' = (mInf - m)/mTau
    h' = (hInf - h)/hTau
}

INITIAL {
    rates(v)
    m = mInf
    h = hInf
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
    LOCAL qt, am, bm, ah, bh
    qt = 2.3^((34 - 21)/10)
    mInf = 1/(1 + exp(-(v + 52.6)/4.6))
    am = 0.182*linoid(v + 38, 6)
    bm = 0.124*linoid(-v - 38, 6)
    mTau = 6/((am + bm)*qt)
    hInf = 1/(1 + exp((v + 48.8)/10))
    ah = 2.88e-6*linoid(-v - 17, 4.63)
    bh = 6.94e-6*linoid(v + 64.4, 2.63)
    hTau = 1/((ah + bh)*qt)
}
