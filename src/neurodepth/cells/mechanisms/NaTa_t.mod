: Transient Na current of the axon (NaTs2_t shifted by -6 mV) (Hay et al. 2011, 5b set).
: Written from the neurodepth facts sheet (hay2011_l5pc_biophysics.md section 2.2).
: Rates of the form k*y/(1-exp(-y/s)) use their analytic limit k*s near y = 0.

NEURON {
    SUFFIX NaTa_t
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
    am = 0.182*linoid(v + 38, 6)
    bm = 0.124*linoid(-v - 38, 6)
    ah = 0.015*linoid(-v - 66, 6)
    bh = 0.015*linoid(v + 66, 6)
    mInf = am/(am + bm)
    mTau = (1/(am + bm))/qt
    hInf = ah/(ah + bh)
    hTau = (1/(ah + bh))/qt
}
