"""Simulate one shard: build the cell once, run many simulations, write a netCDF shard.

Speed choices (measured in docs/benchmarks.md, "Simulation"):
- Input events are handed to NEURON as two Vectors per simulation (times, channel ids) through
  NEURON's built-in ``PatternStim``, which fires the NetCons that ``ParallelContext.gid_connect``
  made for each synapse. No Python runs per event, and no extra NMODL is needed. The channel ids
  are offset by ``GID_BASE`` (plus a block per runner) so they cannot clash with other gids.
- The integrator comes from the config: fixed step (``dt_ms``, ``secondorder``: 2 =
  Crank-Nicolson) or CVODE (``cvode_atol``). The fixed step can be adaptive by soma state
  (``dt_fine_ms`` > 0): each 1 ms chunk runs at ``dt_fine_ms`` while the soma is within reach of
  threshold (above ``refine_above_mv`` at the start of any of the last ``refine_hold_ms`` chunks)
  and at ``dt_ms`` otherwise; an optional middle level (``dt_mid_ms`` > 0) runs while the soma
  was above ``mid_above_mv`` but not near threshold. Output-spike timing is decided in the
  near-threshold stretches (a slow ramp to threshold turns a small voltage error into a large
  timing error), and in depolarised stretches below them the dendrites (NMDA and Ca events)
  accrue the error that later shifts a spike, while the long quiet stretches tolerate a coarse
  step (docs/benchmarks.md, "Simulation").
- Recording: soma, nexus and (optionally) every dendritic segment at integer ms via
  ``Vector.record(ref, tvec)``; the soma also at every integration step, for spike times.
- Output spikes: the maximum of each excursion of the soma voltage above -25 mV (the paper's
  "local maxima above -25 mV", robust to numerical wiggles at the peak), recorded at every
  integration step and refined by a parabola through the three samples around it. float64 ms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodepth.cells.variants import VARIANTS, build_variant
from neurodepth.core.errors import ConfigError
from neurodepth.core.seeds import shard_seed
from neurodepth.data.spikes import SPIKE_THRESHOLD_MV, detect_spikes
from neurodepth.simulation.inputs import InputRates, cell_inputs, generate_point_inputs

GID_BASE = 10_000_000
GID_STRIDE = 1_000_000  # each runner in a process gets its own gid block (no cross-talk)
_runner_count = 0


def _divides_one_ms(dt: float) -> bool:
    """Whether whole steps of ``dt`` land on every integer ms (where samples and input events
    lie)."""
    return abs(round(1 / dt) * dt - 1) <= 1e-9


@dataclass(frozen=True)
class SimulationSettings:
    """The ``simulation`` config section, validated."""

    duration_ms: int = 3000
    integrator: str = "fixed"
    dt_ms: float = 0.05
    secondorder: int = 2
    cvode_atol: float = 1e-3
    record_nexus: bool = True
    record_dendrites: bool = False
    simulations_per_shard: int = 4
    dt_fine_ms: float = 0.0  # > 0: adaptive fixed step (fine step near threshold); 0: uniform dt_ms
    refine_above_mv: float = -60.0
    refine_hold_ms: int = 10
    dt_mid_ms: float = (
        0.0  # > 0: a middle step while the soma was above mid_above_mv; 0: two levels
    )
    mid_above_mv: float = -65.0

    @classmethod
    def from_config(cls, cfg: dict, where: str = "simulation") -> SimulationSettings:
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {}
        for key in known:
            if key in cfg:
                kwargs[key] = type(getattr(cls, key))(cfg[key])
        s = cls(**kwargs)
        if s.integrator not in ("fixed", "cvode"):
            raise ConfigError(f"{where}.integrator={s.integrator!r}: expected 'fixed' or 'cvode'")
        if s.integrator == "fixed" and not (0 < s.dt_ms <= 1):
            raise ConfigError(f"{where}.dt_ms={s.dt_ms}: expected 0 < dt_ms <= 1")
        if s.integrator == "fixed" and not _divides_one_ms(s.dt_ms):
            raise ConfigError(
                f"{where}.dt_ms={s.dt_ms}: must divide 1 ms (samples are taken at integer ms)"
            )
        if s.dt_fine_ms < 0 or (
            s.dt_fine_ms > 0 and (s.dt_fine_ms > s.dt_ms or not _divides_one_ms(s.dt_fine_ms))
        ):
            raise ConfigError(
                f"{where}.dt_fine_ms={s.dt_fine_ms}: expected 0 (off) or a step <= dt_ms that "
                "divides 1 ms"
            )
        if s.dt_mid_ms < 0 or (
            s.dt_mid_ms > 0
            and (
                s.dt_fine_ms == 0
                or not s.dt_fine_ms <= s.dt_mid_ms <= s.dt_ms
                or not _divides_one_ms(s.dt_mid_ms)
            )
        ):
            raise ConfigError(
                f"{where}.dt_mid_ms={s.dt_mid_ms}: expected 0 (off) or a step that divides 1 ms, "
                "between dt_fine_ms (which must be set) and dt_ms"
            )
        if s.dt_mid_ms > 0 and s.mid_above_mv > s.refine_above_mv:
            raise ConfigError(
                f"{where}.mid_above_mv={s.mid_above_mv}: must not be above refine_above_mv="
                f"{s.refine_above_mv} (the middle step covers the band below the fine one)"
            )
        if s.refine_hold_ms < 1:
            raise ConfigError(f"{where}.refine_hold_ms={s.refine_hold_ms}: must be >= 1")
        if s.secondorder not in (0, 1, 2):
            raise ConfigError(f"{where}.secondorder={s.secondorder}: expected 0, 1 or 2")
        if s.duration_ms < 1 or s.simulations_per_shard < 1:
            raise ConfigError(f"{where}: duration_ms and simulations_per_shard must be >= 1")
        if not s.cvode_atol > 0:
            raise ConfigError(f"{where}.cvode_atol={s.cvode_atol}: must be > 0")
        return s

    def replace(self, **kw) -> SimulationSettings:
        return SimulationSettings(**{**self.__dict__, **kw})


class NeuronRunner:
    """Runs simulations of one built cell; reusable across simulations and integrators."""

    def __init__(self, cell, settings: SimulationSettings, record_dendrites: bool | None = None):
        from neuron import h

        h.load_file("stdrun.hoc")
        self.h = h
        self.cell = cell
        self.settings = settings
        self.n_seg = len(cell.segments)
        self.synapses = list(cell.exc_synapses) + list(cell.inh_synapses)
        self.pc = h.ParallelContext()
        global _runner_count
        self.gid_base = GID_BASE + GID_STRIDE * _runner_count
        _runner_count += 1
        # NetCons from "remote" gids: PatternStim fires them from Vectors without Python per event.
        self.netcons = []
        for c, syn in enumerate(self.synapses):
            nc = self.pc.gid_connect(self.gid_base + c, syn)
            nc.weight[0] = 1.0
            nc.delay = 0.0
            self.netcons.append(nc)
        self.pattern = h.PatternStim()
        self._tvec = h.Vector()
        self._gidvec = h.Vector()
        rec_dend = settings.record_dendrites if record_dendrites is None else record_dendrites
        self._setup_recording(settings.duration_ms, settings.record_nexus, rec_dend)

    def _setup_recording(
        self, duration_ms: int, record_nexus: bool, record_dendrites: bool, every_step: bool = False
    ) -> None:
        self.set_recording(record_nexus, record_dendrites, every_step, duration_ms)

    def set_recording(
        self,
        record_nexus: bool,
        record_dendrites: bool,
        every_step: bool = False,
        duration_ms: int | None = None,
    ) -> None:
        """Choose what to record. ``every_step=True`` records at every integration step and
        resamples to 1 ms afterwards (the original protocol, kept as the benchmark baseline);
        otherwise NEURON samples at integer ms itself (``Vector.record(ref, tvec)``)."""
        h = self.h
        self.duration_ms = int(duration_ms or self.duration_ms)
        self.every_step = bool(every_step)
        self._rec_times = h.Vector(np.arange(self.duration_ms, dtype=float))

        def rec(ref):
            return h.Vector().record(ref) if every_step else h.Vector().record(ref, self._rec_times)

        self._soma_ms = rec(self.cell.soma_seg._ref_v)
        self._soma_full = h.Vector().record(self.cell.soma_seg._ref_v)
        self._t_full = h.Vector().record(h._ref_t)
        self._nexus_ms = None
        if record_nexus and getattr(self.cell, "nexus_seg", None) is not None:
            self._nexus_ms = rec(self.cell.nexus_seg._ref_v)
        self._dend_ms = (
            [rec(seg._ref_v) for seg in self.cell.segments] if record_dendrites else None
        )

    def _samples(self, vec, t_full) -> np.ndarray:
        if self.every_step:
            return np.interp(np.arange(self.duration_ms, dtype=float), t_full, np.array(vec))
        return np.array(vec)[: self.duration_ms]

    def _configure_integrator(self, s: SimulationSettings) -> None:
        h = self.h
        if s.integrator == "cvode":
            h.cvode.active(1)
            h.cvode.atol(s.cvode_atol)
        else:
            h.cvode.active(0)
            self._set_dt(s.dt_ms)
            h.secondorder = s.secondorder

    def _set_dt(self, dt: float) -> None:
        # steps_per_ms = 1/dt keeps stdrun's steps per call at one and every ms on a step boundary
        self.h.dt = dt
        self.h.steps_per_ms = 1.0 / dt

    def _run_adaptive(self, s: SimulationSettings) -> None:
        """Fixed step in 1 ms chunks: ``dt_fine_ms`` while the soma was above ``refine_above_mv``
        at the start of any of the last ``refine_hold_ms`` chunks; else ``dt_mid_ms`` (if set)
        while it was above ``mid_above_mv`` in that window; else ``dt_ms``. Input events fall on
        integer ms, i.e. on step boundaries of every step. The fractions of fine and middle
        chunks of the last run are kept in ``self.fine_fraction`` and ``self.mid_fraction``."""
        h, soma = self.h, self.cell.soma_seg
        mid_on = s.dt_mid_ms > 0
        last_near = last_mid = -(10**9)
        n_fine = n_mid = 0
        current = None
        for ms in range(self.duration_ms):
            v = soma.v
            if v > s.refine_above_mv:
                last_near = ms
            if mid_on and v > s.mid_above_mv:
                last_mid = ms
            if ms - last_near < s.refine_hold_ms:
                dt, n_fine = s.dt_fine_ms, n_fine + 1
            elif ms - last_mid < s.refine_hold_ms:
                dt, n_mid = s.dt_mid_ms, n_mid + 1
            else:
                dt = s.dt_ms
            if dt != current:
                self._set_dt(dt)
                current = dt
            h.continuerun(float(ms + 1))
        self.fine_fraction = n_fine / self.duration_ms
        self.mid_fraction = n_mid / self.duration_ms
        self._set_dt(s.dt_ms)

    def run(self, inputs: np.ndarray, settings: SimulationSettings | None = None) -> dict:
        """Simulate one input array (channel, duration_ms) bool. Returns soma/nexus/dendritic
        voltages at each ms (float64 arrays), ``spike_times`` (ms) and ``cpu_s``/``wall_s``."""
        s = settings or self.settings
        h = self.h
        inputs = np.asarray(inputs, dtype=bool)
        if inputs.shape != (len(self.synapses), self.duration_ms):
            raise ValueError(
                f"inputs shape {inputs.shape} != ({len(self.synapses)}, {self.duration_ms})"
            )
        ch, tt = np.nonzero(inputs)
        order = np.lexsort((ch, tt))  # time order (PatternStim walks the vectors in order)
        self._tvec.from_python(tt[order].astype(np.float64))
        self._gidvec.from_python((ch[order] + self.gid_base).astype(np.float64))
        self.pattern.play(self._tvec, self._gidvec)
        self._configure_integrator(s)
        c0, w0 = time.process_time(), time.perf_counter()
        h.finitialize(self.cell.v_init_mv)
        # run to duration_ms (one ms past the last sample) so every sample time is reached
        if s.integrator == "fixed" and s.dt_fine_ms > 0:
            self._run_adaptive(s)
        else:
            h.continuerun(float(self.duration_ms))
        t_full = np.array(self._t_full)
        out = {
            "soma": self._samples(self._soma_ms, t_full),
            "nexus": self._samples(self._nexus_ms, t_full) if self._nexus_ms is not None else None,
            "dendrites": np.array([self._samples(v, t_full) for v in self._dend_ms])
            if self._dend_ms
            else None,
            "spike_times": detect_spikes(t_full, np.array(self._soma_full)),
        }
        # the clock includes reading the recordings back (part of the cost of recording)
        out["cpu_s"], out["wall_s"] = time.process_time() - c0, time.perf_counter() - w0
        if len(out["soma"]) != self.duration_ms:
            raise RuntimeError(
                f"recorded {len(out['soma'])} soma samples, expected {self.duration_ms}"
            )
        return out


def simulation_rng(seed_value: int, index: int) -> np.random.Generator:
    """Generator of simulation ``index`` in a shard: independent of the other simulations' draws."""
    return np.random.default_rng(np.random.SeedSequence([int(seed_value), int(index)]))


def build_variant_cell(cell_name, variant, mechanisms_dir, morphology_path):
    """Load the mechanisms and the spec, and build the NEURON cell of ``variant``."""
    from neurodepth.cells.mechanisms_build import load_mechanisms
    from neurodepth.cells.spec import load_cell_spec

    load_mechanisms(mechanisms_dir)
    spec = (
        load_cell_spec(cell_name, morphology_path=morphology_path)
        if morphology_path
        else load_cell_spec(cell_name)
    )
    return build_variant(spec, variant)


def _simulate_point_model(model, seed_value, n, T, rates, bar):
    """A non-NEURON variant's simulations: inputs on its fixed channels, numpy simulation."""
    inputs, soma, spikes = [], [], []
    for i in range(n):
        x = generate_point_inputs(simulation_rng(seed_value, i), model.n_exc, model.n_inh, T, rates)
        v, spk = model.simulate(x)
        inputs.append(x), soma.append(v), spikes.append(spk)
        bar.update(1)
    bar.close()
    return inputs, soma, spikes


@dataclass(frozen=True)
class ShardJob:
    """What one shard is: which cell, variant, split and index, drawn from which settings.

    ``seed`` is the global seed; the shard's generator derives from (seed, cell, variant, split,
    shard). ``inputs_cfg`` is ``config["inputs"][variant]``. ``input_scale`` (a calibrated scale,
    see ``neurodepth.simulation.calibration``) multiplies the configured rates; None uses them as
    given, drawing exactly what they always drew. ``config_hash`` is stored with the shard so that
    a merge can refuse shards of another config.
    """

    cell_name: str
    variant: str
    split: str
    shard: int
    seed: int
    simulation_cfg: dict
    inputs_cfg: dict
    mechanisms_dir: object = None
    morphology_path: object = None
    config_hash: str = ""
    input_scale: float | None = None


def simulate_shard(job: ShardJob, progress: bool = True, cell=None):
    """Run one shard's simulations in this process and return the shard as an xr.Dataset.

    A variant without NEURON (``lif``: the numpy I&F neuron) runs its ``point_model`` on its
    fixed channels. ``cell`` lets a caller pass an already built cell (tests, benchmarks). The
    shard records the input scale (``input_scale``, 1.0 for rates used as given) and the rates it
    used (``input_protocol``).
    """
    from tqdm import tqdm

    from neurodepth.data.shards import build_shard_dataset

    cell_name, variant, split, shard, seed = (
        job.cell_name,
        job.variant,
        job.split,
        job.shard,
        job.seed,
    )
    input_scale = job.input_scale
    entry = VARIANTS[variant]
    model = entry.point_model
    settings = SimulationSettings.from_config(job.simulation_cfg)
    rates = InputRates.from_config(job.inputs_cfg, where=f"inputs.{variant}")
    if input_scale is not None:
        rates = rates.scaled(input_scale)
    seed_value = shard_seed(seed, cell_name, variant, split, shard)
    T, n = settings.duration_ms, settings.simulations_per_shard
    attrs = dict(
        cell=cell_name,
        variant=variant,
        split=split,
        shard=int(shard),
        seed=int(seed_value),
        global_seed=int(seed),
        config_hash=str(job.config_hash),
        duration_ms=int(T),
        integrator=settings.integrator if entry.uses_neuron else model.integrator,
        dt_ms=float(settings.dt_ms)
        if settings.integrator == "fixed" and entry.uses_neuron
        else 0.0,
        secondorder=int(settings.secondorder),
        cvode_atol=float(settings.cvode_atol),
        dt_fine_ms=float(settings.dt_fine_ms),
        refine_above_mv=float(settings.refine_above_mv),
        refine_hold_ms=int(settings.refine_hold_ms),
        dt_mid_ms=float(settings.dt_mid_ms),
        mid_above_mv=float(settings.mid_above_mv),
        input_protocol=rates.as_dict(),
        input_scale=1.0 if input_scale is None else float(input_scale),
        spike_threshold_mv=SPIKE_THRESHOLD_MV,
        spike_definition=(
            "local maxima of soma voltage above spike_threshold_mv, parabolic peak time"
        ),
    )

    inputs, soma, nexus, dend, spikes = [], [], [], [], []
    bar = tqdm(
        total=n,
        desc=f"{cell_name}/{variant}/{split}/shard {shard}",
        unit="sim",
        disable=not progress,
        mininterval=1.0,
    )
    wall0 = time.perf_counter()
    if not entry.uses_neuron:
        inputs, soma, spikes = _simulate_point_model(model, seed_value, n, T, rates, bar)
        return build_shard_dataset(
            np.array(inputs),
            np.array(soma),
            spikes,
            attrs,
            segment_table=model.segment_table(),
            n_exc=model.n_exc,
        )

    if cell is None:
        cell = build_variant_cell(cell_name, variant, job.mechanisms_dir, job.morphology_path)
    runner = NeuronRunner(cell, settings)
    attrs["v_init_mv"] = float(cell.v_init_mv)
    for i in range(n):
        x = cell_inputs(simulation_rng(seed_value, i), cell, T, rates)
        out = runner.run(x)
        # float32 now: a shard of dendritic traces in float64 would double peak memory
        (
            inputs.append(x),
            soma.append(out["soma"].astype(np.float32)),
            spikes.append(out["spike_times"]),
        )
        if out["nexus"] is not None:
            nexus.append(out["nexus"].astype(np.float32))
        if out["dendrites"] is not None:
            dend.append(out["dendrites"].astype(np.float32))
        bar.update(1)
        bar.set_postfix(
            sim_s_per_wall_s=f"{(i + 1) * T / 1000 / (time.perf_counter() - wall0):.3f}"
        )
    bar.close()
    return build_shard_dataset(
        np.array(inputs),
        np.array(soma),
        spikes,
        attrs,
        segment_table=cell.segment_table,
        channel_segment=cell.input_sites()[2],
        nexus_voltage=np.array(nexus) if nexus else None,
        dendritic_voltage=np.array(dend) if dend else None,
    )


def run_shard(job: ShardJob, out_path, progress: bool = True) -> Path:
    """Simulate one shard and write it atomically to ``out_path`` (the Snakemake entry point)."""
    from neurodepth.core.atomic import check_free_space
    from neurodepth.data.shards import write_shard

    # before hours of simulation, not after: the shard's size is known from the config
    settings = SimulationSettings.from_config(job.simulation_cfg)
    per_sim = (
        0.1e6
        * settings.duration_ms
        / 1000.0
        * (1 + 8 * bool(job.simulation_cfg.get("record_dendrites")))
    )
    check_free_space(
        Path(out_path).parent,
        int(2 * per_sim * settings.simulations_per_shard),
        what=f"shard {out_path}",
    )
    return write_shard(simulate_shard(job, progress=progress), out_path)
