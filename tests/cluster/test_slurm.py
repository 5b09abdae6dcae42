"""The tiny pipeline through a real Slurm (``snakemake --profile profiles/slurm``).

Needs a Slurm that is already running: ``make test-cluster`` brings up a one-node Slurm on
localhost (``local_slurm_up.sh``: root, and apt-get on Debian 12), runs these tests and takes it
down again. The tests never start Slurm themselves, so a plain ``pytest`` or ``make test`` installs
nothing. They run the tiny config's networks of a NEURON variant and of the I&F neuron
(``SLURM_TARGETS``: every kind of cluster job) through the Slurm profile, then check:

* every job Snakemake submitted is a Slurm job that ``sacct`` reports COMPLETED (exit 0:0);
* every non-local rule's job ran inside a Slurm job (its rule/wildcards appear in a Slurm job log);
* the results equal a local run's of the same targets: dataset arrays bit for bit, metrics
  within tolerance.

A second test gives a training job a 1-minute time limit, shorter than its training: Slurm kills
it (TIMEOUT), the retries resume from last.ckpt, and the final weights equal an uninterrupted
run's.

Skipped (saying why) when no Slurm is running; with ``REQUIRE_SLURM=1`` (CI) that is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from workflow_helpers import copy_workflow

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PARTITION = "debug"
RUN_TIMEOUT_S = 2400  # the whole Slurm run, enforced with `timeout -s INT` so jobs get cancelled


def skip_or_fail(reason: str):
    if os.environ.get("REQUIRE_SLURM") == "1":
        pytest.fail(f"REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def slurm_is_up() -> bool:
    """Controller answers, the node is usable and accounting (sacct) works."""
    if not (shutil.which("scontrol") and shutil.which("sinfo") and shutil.which("sacct")):
        return False
    try:
        if "UP" not in _run(["scontrol", "ping"], timeout=20).stdout:
            return False
        states = _run(["sinfo", "-h", "-o", "%T"], timeout=20).stdout.split()
        if not any(s.rstrip("*~#") in ("idle", "mixed", "allocated", "completing") for s in states):
            return False
        return (
            _run(["sacct", "-n", "-X", "--starttime", "now-1minutes"], timeout=20).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


# session scope: pytest sets up wider-scoped fixtures first, and this check must come before the
# session's tiny local run (minutes) that the pipeline test also asks for
@pytest.fixture(scope="session")
def slurm_cluster():
    if not slurm_is_up():
        skip_or_fail(
            "no usable Slurm is running (controller, an idle node and sacct); "
            "`make test-cluster` brings one up on localhost and runs these tests"
        )
    if not shutil.which("timeout"):
        skip_or_fail("coreutils `timeout` is missing")


def run_logged(cmd, cwd: Path, env: dict, timeout_s: int, log: Path) -> subprocess.CompletedProcess:
    # SIGINT makes Snakemake cancel its Slurm jobs and exit; SIGKILL 30 s later if it hangs
    full = ["timeout", "-s", "INT", "-k", "30", str(timeout_s), *cmd]
    result = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True)
    log.write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    return result


def sacct_states(job_ids, wait_s: float = 60.0) -> dict[str, tuple[str, str]]:
    """{jobid: (State, ExitCode)} for allocations; waits for slurmdbd to catch up."""
    ids = ",".join(sorted(job_ids, key=int))
    deadline = time.monotonic() + wait_s
    while True:
        out = _run(
            [
                "sacct",
                "-X",
                "-n",
                "-P",
                "-j",
                ids,
                "-o",
                "JobIDRaw,State,ExitCode",
                "--starttime",
                "now-1days",
            ],
            timeout=30,
        ).stdout
        states = {}
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) == 3:
                states[parts[0]] = (parts[1], parts[2])
        done = len(states) == len(job_ids) and all(s[0] == "COMPLETED" for s in states.values())
        if done or time.monotonic() > deadline:
            return states
        time.sleep(2)


#: "rule NAME:" (or "localrule NAME:") headers and the job's "jobid:"/"wildcards:" lines
RULE_RE = re.compile(r"^\s*(local)?rule (\w+):\s*$")


def rule_executions(text: str) -> list[tuple[str, bool, str]]:
    """(rule, is_local, wildcards) of every job block Snakemake printed."""
    blocks, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        m = RULE_RE.match(line)
        if not m:
            continue
        wildcards = ""
        for nxt in lines[i + 1 : i + 15]:
            if RULE_RE.match(nxt):
                break
            if nxt.strip().startswith("wildcards:"):
                wildcards = nxt.split("wildcards:", 1)[1].strip()
        blocks.append((m.group(2), bool(m.group(1)), wildcards))
    return blocks


def compare_datasets(slurm_dir: Path, local_dir: Path) -> int:
    """Every dataset of the Slurm run against the local run's (the Slurm run may make fewer)."""
    files = sorted((slurm_dir / "results" / "datasets").rglob("*.nc"))
    assert files, "the Slurm run produced no datasets"
    for slurm_path in files:
        rel = slurm_path.relative_to(slurm_dir)
        local_path = local_dir / rel
        with xr.open_dataset(local_path) as a, xr.open_dataset(slurm_dir / rel) as b:
            assert set(a.data_vars) == set(b.data_vars), rel
            for name in a.data_vars:
                va, vb = a[name].values, b[name].values
                assert va.shape == vb.shape, f"{rel}:{name} shape"
                if va.dtype.kind == "f":
                    assert np.array_equal(va, vb, equal_nan=True), f"{rel}:{name} differs"
                else:
                    assert np.array_equal(va, vb), f"{rel}:{name} differs"
            for key in ("cell", "variant", "split", "config_hash", "duration_ms", "seed"):
                assert str(a.attrs.get(key)) == str(b.attrs.get(key)), f"{rel}: attr {key}"
    return len(files)


def compare_metrics(slurm_dir: Path, local_dir: Path) -> tuple[int, float]:
    """Every metrics file of the Slurm run against the local run's."""
    files = sorted((slurm_dir / "results" / "evaluation").rglob("metrics.csv"))
    assert files, "the Slurm run produced no metrics"
    worst = 0.0
    for slurm_path in files:
        rel = slurm_path.relative_to(slurm_dir)
        local_path = local_dir / rel
        keys = ["cell", "variant", "depth", "seed", "metric", "subset"]
        a = pd.read_csv(local_path).sort_values(keys).reset_index(drop=True)
        b = pd.read_csv(slurm_dir / rel).sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a[keys].astype(str), b[keys].astype(str))
        va, vb = a["value"].to_numpy(float), b["value"].to_numpy(float)
        assert np.array_equal(np.isnan(va), np.isnan(vb)), f"{rel}: NaN pattern differs"
        ok = ~np.isnan(va)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(va[ok] - vb[ok]))))
        # CPU training with the same seed and thread count is deterministic here; the tolerance
        # only absorbs float reduction order if a job landed on a different thread count
        np.testing.assert_allclose(vb[ok], va[ok], rtol=1e-4, atol=1e-5, err_msg=str(rel))
    return len(files), worst


def test_cluster_runs_a_batch_job_with_accounting(slurm_cluster, tmp_path):
    """The cluster itself: an sbatch job with an srun step runs, and sacct records it COMPLETED."""
    out = tmp_path / "hello.txt"
    sub = _run(
        [
            "sbatch",
            "--parsable",
            "-p",
            PARTITION,
            "-t",
            "2",
            "--mem",
            "100",
            "-c",
            "1",
            "-J",
            f"neurodepth-smoke-{os.getpid()}",
            "-o",
            str(tmp_path / "%j.log"),
            "--wait",
            "--wrap",
            f"srun hostname > {out}; echo job=$SLURM_JOB_ID >> {out}",
        ],
        timeout=180,
    )
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip().split(";")[0]
    print(f"\nsmoke Slurm job ID: {job_id}")
    assert f"job={job_id}" in out.read_text()
    assert sacct_states([job_id]) == {job_id: ("COMPLETED", "0:0")}


SLURM_TARGETS = [
    f"results/evaluation/stylized_l5pc/{variant}/d{depth}_s0/metrics.csv"
    for variant in ("full", "lif")
    for depth in (1, 2)
]


@pytest.fixture(scope="module")
def local_run_of_the_targets(tmp_path_factory):
    """The same targets of the tiny config run locally (``snakemake --cores 2``)."""
    workflow = copy_workflow(tmp_path_factory.mktemp("local_targets"))
    start = time.monotonic()
    workflow.run("--cores", "2", *SLURM_TARGETS)
    workflow.seconds = time.monotonic() - start
    return workflow


def test_tiny_pipeline_through_slurm_matches_local_run(
    slurm_cluster, local_run_of_the_targets, tmp_path
):
    if not (REPO / "Snakefile").exists():
        pytest.fail("Snakefile missing")
    slurm = copy_workflow(tmp_path / "slurm")
    slurm_dir = slurm.root
    # The Slurm run imports a frozen copy of the package, so an edit to src/ while it runs (it
    # takes minutes) cannot change it half-way.
    src = tmp_path / "src"
    shutil.copytree(REPO / "src", src, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = dict(os.environ, NEURODEPTH_SLURM_PARTITION=PARTITION, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    env["PATH"] = (
        f"{Path(sys.executable).parent}:{env.get('PATH', '')}"  # jobs inherit it (--export=ALL)
    )
    where = _run(
        [sys.executable, "-c", "import neurodepth; print(neurodepth.__file__)"], env=env, timeout=60
    )
    assert where.stdout.strip().startswith(str(src)), (
        f"package not imported from the snapshot: {where.stdout}"
    )

    t0 = time.monotonic()
    slurm_log = tmp_path / "snakemake_slurm.log"
    result = run_logged(
        slurm.command(
            "--profile",
            "profiles/slurm",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--slurm-keep-successful-logs",
            "--jobs",
            "4",
            "--cores",
            "2",  # the test node has 2 CPUs
            "--group-components",
            "simulation=2",
            "--latency-wait",
            "10",
            "--retries",
            "0",  # a failure here must show, not be retried
            # every kind of cluster job (compile, simulate, merge, dendritic PCA, train,
            # evaluate) for a NEURON variant and a point-neuron one; the family comparison and
            # the third variant would only add more of the same jobs (~5 minutes on 2 cores)
            *SLURM_TARGETS,
        ),
        slurm_dir,
        env,
        RUN_TIMEOUT_S,
        slurm_log,
    )
    slurm_s = time.monotonic() - t0
    text = slurm_log.read_text()
    assert result.returncode == 0, (
        f"snakemake via Slurm failed (rc {result.returncode}):\n{text[-8000:]}"
    )

    # 1. every submission is a real Slurm job that completed
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", text)), key=int)
    assert job_ids, f"no 'SLURM jobid' lines in the Snakemake log:\n{text[-3000:]}"
    states = sacct_states(job_ids)
    print(f"\nSlurm job IDs ({len(job_ids)}): {' '.join(job_ids)}")
    for jid in job_ids:
        print(f"  sacct job {jid}: {states.get(jid)}")
    assert set(states) == set(job_ids), f"sacct does not know jobs {set(job_ids) - set(states)}"
    bad = {j: s for j, s in states.items() if s != ("COMPLETED", "0:0")}
    assert not bad, f"Slurm jobs not COMPLETED/0:0: {bad}"
    assert not _run(
        ["squeue", "-h", "-j", ",".join(job_ids), "-t", "PD,R,CG"], timeout=30
    ).stdout.strip()

    # 2. every non-local rule ran inside one of those Slurm jobs
    planned = [(r, w) for r, local, w in rule_executions(text) if not local]
    assert planned, "Snakemake printed no non-local jobs"
    log_dir = slurm_dir / ".snakemake" / "slurm_logs"
    slurm_logs = sorted(log_dir.rglob("*.log"))
    ids_with_logs = {p.stem for p in slurm_logs}
    assert ids_with_logs == set(job_ids), f"Slurm logs {sorted(ids_with_logs)} vs jobs {job_ids}"
    inside = []
    for p in slurm_logs:
        inside += [(r, w) for r, _local, w in rule_executions(p.read_text(errors="replace"))]
    missing = [job for job in planned if job not in inside]
    assert not missing, f"non-local jobs with no trace in any Slurm job log: {missing[:10]}"
    rules_on_slurm = sorted({r for r, _ in planned})
    print(
        f"non-local jobs: {len(planned)} ({', '.join(rules_on_slurm)}) in {len(job_ids)} Slurm jobs"
    )
    assert "simulate_shard" in rules_on_slurm and "train_model" in rules_on_slurm

    # the grouped shards really shared submissions
    n_shards = sum(1 for r, _ in planned if r == "simulate_shard")
    group_ids = {p.stem for p in slurm_logs if "simulation" in str(p.relative_to(log_dir))}
    assert 0 < len(group_ids) < n_shards, f"{n_shards} shards in {len(group_ids)} group jobs"

    # 3. same results as a local run of the same targets
    local_dir = local_run_of_the_targets.root
    local_s = local_run_of_the_targets.seconds
    n_datasets = compare_datasets(slurm_dir, local_dir)
    n_metrics, worst = compare_metrics(slurm_dir, local_dir)
    # 2 variants x 3 splits, and the full cell's dendritic PCA
    assert n_datasets == 2 * 3 + 1 and n_metrics == len(SLURM_TARGETS)
    print(
        f"{n_datasets} datasets identical bit for bit; {n_metrics} metric files agree "
        f"(largest |difference| {worst:.3g}); Slurm run {slurm_s:.0f} s, local run {local_s:.0f} s"
    )


def test_training_past_its_time_limit_resumes_to_the_uninterrupted_weights(slurm_cluster, tmp_path):
    """Walltime: a training job whose Slurm time limit (1 minute) is shorter than its training is
    killed (TIMEOUT: SIGTERM, then SIGKILL), and its retries resume from last.ckpt until the
    training is done; the final weights equal those of one uninterrupted run."""
    import concurrent.futures
    import copy

    import torch

    from neurodepth.learning.networks import candidate_architectures
    from neurodepth.learning.train import train_model
    from neurodepth.ops.study_config import validate_study_config

    variant, model_dir = "lif", "results/models/stylized_l5pc/lif/d1_s0/c0"
    wf = copy_workflow(
        tmp_path / "walltime",
        overrides={"variants": [variant], "network": {"depths": [1], "seeds": [0]}},
    )
    env = dict(os.environ, NEURODEPTH_SLURM_PARTITION=PARTITION, PYTHONUNBUFFERED="1")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    datasets = [f"results/datasets/stylized_l5pc/{variant}/{s}.nc" for s in ("train", "valid")]
    wf.run("--cores", "2", *datasets)  # the I&F datasets, locally (seconds)

    # Steps for ~100 s of training on this machine (measured), so that a 1-minute limit
    # (Slurm enforces it to within its 30 s check period) kills the job at least once. The step
    # time is the difference of two probes: one probe's time is mostly start-up (opening the
    # data, building the trainer), which made a 1-probe estimate ~2x short on a loaded machine.
    config = yaml_load(wf.path("tiny_config.yaml"))
    # the rule's training section and architecture: the config completed with the schema defaults
    full = validate_study_config(copy.deepcopy(config))
    training = dict(full["training"])
    architecture = candidate_architectures("tcn", 1, full["network"])[0]
    train_paths = [wf.path(p) for p in datasets]
    torch.set_num_threads(1)  # the rule's threads: 1
    probe_seconds = {}
    for probe in (200, 1200):
        training |= {
            "phases": [{"steps": probe, "lr": 0.003, "spike_weight": 1.0, "soma_weight": 0.02}],
            "val_every_steps": probe,
            "progress_bar": False,
        }
        t0 = time.monotonic()
        train_model(*train_paths, tmp_path / f"probe_{probe}", architecture, training, 0)
        probe_seconds[probe] = time.monotonic() - t0
    step_s = max((probe_seconds[1200] - probe_seconds[200]) / 1000, 1e-4)
    steps = int(100 / step_s)
    training |= {
        "phases": [
            {"steps": steps // 2, "lr": 0.003, "spike_weight": 1.0, "soma_weight": 0.02},
            {"steps": steps - steps // 2, "lr": 0.001, "spike_weight": 2.0, "soma_weight": 0.01},
        ],
        "val_every_steps": max(1, steps // 8),
        "patience_validations": 1000,  # no early stop: the run must outlast the limit
    }
    config["training"] = training
    wf.path("tiny_config.yaml").write_text(yaml_dump(config))

    log = tmp_path / "snakemake_walltime.log"
    # the uninterrupted reference trains here (signal handlers need the main thread) while the
    # Slurm run proceeds beside it: the job holds one core, the reference the other
    slurm_run = concurrent.futures.ThreadPoolExecutor(1).submit(
        run_logged,
        wf.command(
            "--profile",
            "profiles/slurm",
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--jobs",
            "1",
            "--cores",
            "2",
            "--latency-wait",
            "10",
            "--set-resources",
            "train_model:runtime=1",  # minutes: shorter than the training
            # fixed, where a retry would ask for attempt x the memory: more than the test node has
            "train_model:mem_mb=2000",
            "--retries",
            "8",
            f"{model_dir}/model.ckpt",
        ),
        wf.root,
        env,
        RUN_TIMEOUT_S,
        log,
    )
    reference = tmp_path / "uninterrupted"
    train_model(*train_paths, reference, architecture, training, 0)
    result = slurm_run.result()
    text = log.read_text()
    assert result.returncode == 0, f"snakemake via Slurm failed:\n{text[-8000:]}"
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", text)), key=int)
    states = sacct_states(job_ids, wait_s=10)
    print(f"\ntraining's Slurm jobs: {states}")
    timeouts = [j for j, (state, _) in states.items() if state == "TIMEOUT"]
    assert timeouts, f"no training job hit its time limit: {states}"
    assert list(states.values())[-1][0] == "COMPLETED"
    # Slurm's SIGTERM reached the training, which saved its step (the timed-out jobs' Slurm
    # logs hold what the job printed; Snakemake clears the rule's log before each retry) ...
    timed_out_logs = [
        p.read_text(errors="replace")
        for p in wf.path(".snakemake/slurm_logs").rglob("*.log")
        if p.stem in timeouts
    ]
    assert timed_out_logs, f"no Slurm log of the timed-out jobs {timeouts}"
    assert any("SIGTERM at step" in text for text in timed_out_logs), timed_out_logs[0][-3000:]
    # ... and the last attempt resumed from it
    rule_log = wf.path("logs/train_model/stylized_l5pc/lif/d1_s0_c0.log").read_text()
    assert re.search(r"resuming .* at step [1-9]\d*", rule_log), rule_log[-3000:]

    killed = torch.load(wf.path(f"{model_dir}/last.ckpt"), weights_only=False)
    straight = torch.load(reference / "last.ckpt", weights_only=False)
    assert killed["global_step"] == straight["global_step"] == steps
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, killed["state_dict"][key]), key
    a = torch.load(wf.path(f"{model_dir}/model.ckpt"), weights_only=False)["state_dict"]
    b = torch.load(reference / "model.ckpt", weights_only=False)["state_dict"]
    assert all(torch.equal(b[k], a[k]) for k in b)


def yaml_load(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def yaml_dump(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False)
