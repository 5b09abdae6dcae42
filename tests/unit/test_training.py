"""Training: overfitting a tiny dataset, phase schedule, resume after a kill, divergence guard,
load_model, evaluate_checkpoint outputs, and a second network family trained and loaded back."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from toy_data import write_toy_dataset

from neurodepth.core.config import section_defaults
from neurodepth.core.errors import ConfigError, TrainingDivergedError
from neurodepth.data.reader import DatasetReader
from neurodepth.learning.checkpoints import load_model
from neurodepth.learning.evaluate import evaluate_checkpoint, predict_trace
from neurodepth.learning.lightning_module import NeuronLightningModule
from neurodepth.learning.networks import FAMILIES, NetworkFamily, build_network
from neurodepth.learning.networks.tcn import TCN
from neurodepth.learning.train import train_model

ARCH = {"depth": 1, "kernels": [40], "width": 8}


@pytest.fixture(autouse=True)
def _one_thread():
    # Shared 2-core machine: one intra-op thread avoids OpenMP spin contention.
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("toy") / "toy.nc"
    write_toy_dataset(path, n_simulations=6, duration_ms=1000, n_channels=16, seed=5)
    return path


def _cfg(steps=(120, 80), val_every=40, **kw):
    """The schema's training defaults with a small, fast setting on top."""
    cfg = section_defaults("training")
    cfg |= {
        "window_ms": 200,
        "min_window_end_ms": 500,
        "batch_size": 8,
        "validation_min_spikes": 30,
        "patience_validations": 1000,
        "num_workers": 0,
        "accelerator": "cpu",
        "progress_bar": False,
        "val_every_steps": val_every,
        "phases": [
            {"steps": steps[0], "lr": 0.01, "spike_weight": 1.0, "soma_weight": 0.02},
            {"steps": steps[1], "lr": 0.003, "spike_weight": 2.0, "soma_weight": 0.01},
        ],
    }
    cfg.update(kw)
    return cfg


def _module(model, cfg):
    return NeuronLightningModule(
        model, cfg["phases"], family="tcn", l2=cfg["l2"], divergence_loss=cfg["divergence_loss"]
    )


def test_tiny_network_overfits_tiny_dataset_and_evaluates(toy_path, tmp_path):
    out = tmp_path / "run"
    ckpt = train_model(toy_path, toy_path, out, ARCH, _cfg(), seed=0)
    assert ckpt == out / "model.ckpt" and ckpt.exists()
    model, meta = load_model(ckpt)
    assert meta["best_val_spike_auc"] > 0.95
    assert meta["receptive_field"] == 40 and meta["architecture"] == ARCH
    # The training log has one row per logged step and follows the phase schedule.
    log = pd.read_csv(out / "training_log.csv")
    lr = log.dropna(subset=["lr"])
    assert np.allclose(lr.loc[lr.step < 119, "lr"], 0.01) and np.allclose(
        lr.loc[lr.step >= 121, "lr"], 0.003
    )
    assert log["val_spike_auc"].notna().sum() == 5  # validation every 40 of 200 steps
    assert log["step"].is_monotonic_increasing

    # Full-trace prediction with windows equals one pass over the whole trace.
    r = DatasetReader(toy_path)
    x, _, _ = r.full(2)
    prob, soma = predict_trace(model, x, window_ms=100)
    with torch.no_grad():
        whole = torch.sigmoid(model(torch.from_numpy(x)[None])["spike_logit"][0]).numpy()
    np.testing.assert_allclose(prob, whole, rtol=1e-5, atol=1e-6)

    metrics = tmp_path / "eval" / "metrics.csv"
    preds = tmp_path / "eval" / "predictions.nc"
    df = evaluate_checkpoint(
        ckpt,
        toy_path,
        section_defaults("evaluation") | {"max_output_spikes": 100, "subsets": 12},
        metrics,
        preds,
        {"cell": "toy", "variant": "full", "depth": 1, "seed": 0},
    )
    table = pd.read_csv(metrics)
    assert list(table.columns) == [
        "cell",
        "variant",
        "depth",
        "seed",
        "metric",
        "subset",
        "value",
        "fails_bce_check",
    ]
    assert len(table) == len(df) == 13 * 13
    # The held-out BCE beats the constant-rate predictor's (training rate) by far on this toy.
    value = table.query("subset == 'all'").set_index("metric")["value"]
    assert value["spike_bce"] < 0.8 * value["constant_rate_bce"]
    assert value["spike_bce_ratio"] == pytest.approx(
        value["spike_bce"] / value["constant_rate_bce"]
    )
    assert not table["fails_bce_check"].any()
    auc = table.query("metric == 'spike_auc' and subset == 'all'").value.item()
    assert auc > 0.95
    with xr.open_dataset(preds) as ds:
        assert ds["spike_probability"].shape == (6, 1000)
        assert ds.attrs["model_receptive_field"] == 40
        assert ds["roc_fpr"].dims == ("roc_point",) and float(ds["roc_tpr"].max()) == 1.0
        assert (
            ds["spike_timing_count"].dims == ("lag_ms",) and int(ds["spike_timing_count"].sum()) > 0
        )
        np.testing.assert_allclose(ds["soma_truth"].max(), -55.0, atol=1e-4)


# every family's recurrence or convolution must resume bit-exactly (ELM: 4 memory units)
RESUMABLE = [
    ("tcn", ARCH),
    ("elm", {"depth": 4, "memory_units": 4, "mlp_hidden": 8, "context_ms": 60}),
    ("gru", {"depth": 8, "hidden_units": 8, "context_ms": 60}),
]


@pytest.mark.parametrize(("family", "arch"), RESUMABLE, ids=[f for f, _ in RESUMABLE])
def test_resume_after_kill_continues_from_checkpoint(toy_path, tmp_path, family, arch):
    out = tmp_path / "run"
    cfg = _cfg(steps=(3000, 3000), val_every=10)
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from neurodepth.learning.train import train_model\n"
        f"train_model({str(toy_path)!r}, {str(toy_path)!r}, {str(out)!r}, {arch!r}, {cfg!r}, 0, "
        f"family={family!r})\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    last = out / "last.ckpt"
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if last.exists():
                step = torch.load(last, weights_only=False)["global_step"]
                if step >= 20:
                    break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    step_at_kill = torch.load(last, weights_only=False)["global_step"]
    assert step_at_kill >= 20
    # Rerun: picks up last.ckpt (stop 10 steps later; the test-only max_steps skips finalising).
    killed = torch.load(last, weights_only=False)
    train_model(toy_path, toy_path, out, arch, cfg, 0, family=family, max_steps=step_at_kill + 10)
    resumed = torch.load(last, weights_only=False)
    assert resumed["global_step"] == step_at_kill + 10
    # last.ckpt was the state at the last validation before the kill (every validation writes
    # it, not only improving ones): its validation count says so.
    assert killed["callbacks"]["TrainingProgress"]["n_validations"] == step_at_kill // 10
    assert resumed["callbacks"]["TrainingProgress"]["n_validations"] == step_at_kill // 10 + 1
    # Bit-exact: an uninterrupted run to the same step ends in the same weights and optimiser.
    ref = tmp_path / "reference"
    train_model(toy_path, toy_path, ref, arch, cfg, 0, family=family, max_steps=step_at_kill + 10)
    straight = torch.load(ref / "last.ckpt", weights_only=False)
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    for a, b in zip(
        straight["optimizer_states"][0]["state"].values(),
        resumed["optimizer_states"][0]["state"].values(),
    ):
        assert all(torch.equal(a[k], b[k]) for k in a)
    versions = sorted((out / "logs").glob("version_*/metrics.csv"))
    assert len(versions) >= 2
    second = pd.read_csv(versions[-1])
    assert second["step"].min() >= step_at_kill  # continued, not restarted from step 0
    log = pd.read_csv(out / "training_log.csv")
    assert log["step"].max() >= step_at_kill + 9 and log["step"].is_unique


def test_sigterm_saves_the_current_step_and_the_retry_ends_as_an_uninterrupted_run(
    toy_path, tmp_path
):
    """A scheduler's time limit: SIGTERM between two validations. The job writes last.ckpt at the
    step it reached, exits 143 (failed, so Snakemake retries it), and the retry ends in the same
    weights and optimiser state as a run that was never interrupted."""
    out = tmp_path / "run"
    cfg = _cfg(steps=(3000, 3000), val_every=10)
    # The subprocess sends itself SIGTERM after the 37th optimiser step, through the real signal
    # handler Lightning installs, so the step is known and lies between validations (30 and 40).
    code = (
        "import os, signal\n"
        "import torch; torch.set_num_threads(1)\n"
        "from neurodepth.learning.lightning_module import NeuronLightningModule\n"
        "def on_train_batch_end(self, outputs, batch, batch_idx):\n"
        "    if self.global_step == 37:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "NeuronLightningModule.on_train_batch_end = on_train_batch_end\n"
        "from neurodepth.learning.train import train_model\n"
        f"train_model({str(toy_path)!r}, {str(toy_path)!r}, {str(out)!r}, {ARCH!r}, {cfg!r}, 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-3000:]
    assert "SIGTERM at step 37" in proc.stderr
    killed = torch.load(out / "last.ckpt", weights_only=False)
    # the step it reached, not the last validation's (30): no step is lost to the kill
    assert killed["global_step"] == 37
    assert killed["callbacks"]["TrainingProgress"]["n_validations"] == 3
    assert not (out / "model.ckpt").exists()  # an interrupted job is not a finished one

    train_model(toy_path, toy_path, out, ARCH, cfg, 0, max_steps=55)  # the retry
    resumed = torch.load(out / "last.ckpt", weights_only=False)
    ref = tmp_path / "reference"
    train_model(toy_path, toy_path, ref, ARCH, cfg, 0, max_steps=55)
    straight = torch.load(ref / "last.ckpt", weights_only=False)
    assert resumed["global_step"] == straight["global_step"] == 55
    # validations at 40 and 50 happened after the resume, on schedule
    assert (
        resumed["callbacks"]["TrainingProgress"]["history"]
        == (straight["callbacks"]["TrainingProgress"]["history"])
    )
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, resumed["state_dict"][key]), key
    for a, b in zip(
        straight["optimizer_states"][0]["state"].values(),
        resumed["optimizer_states"][0]["state"].values(),
        strict=True,
    ):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_keeps_best_and_true_last_state(toy_path, tmp_path):
    # Phase 2 barely changes the network (lr 0; only BatchNorm statistics move): after 3
    # validations without an improvement of more than min_improvement training stops, long before
    # the 40 + 400 step cap.
    out = tmp_path / "run"
    cfg = _cfg(steps=(40, 400), val_every=10, patience_validations=3, min_improvement=1e-3)
    cfg["phases"][1]["lr"] = 0.0
    ckpt = train_model(toy_path, toy_path, out, ARCH, cfg, seed=0)
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["stopped_early"] and not summary["capped"]
    assert summary["selected_step"] < summary["stopped_step"] < 440
    assert summary["stopped_step"] == summary["selected_step"] + 30
    assert summary["n_validations"] == summary["stopped_step"] // 10
    assert summary["best_criterion_se"] > 0 and summary["validation_output_spikes"] >= 30
    last = torch.load(out / "last.ckpt", weights_only=False)
    best = torch.load(out / "best.ckpt", weights_only=False)
    assert last["global_step"] == summary["stopped_step"] != best["global_step"]
    assert best["global_step"] == summary["selected_step"]
    differ = [
        k
        for k in best["state_dict"]
        if not torch.equal(best["state_dict"][k], last["state_dict"][k])
    ]
    assert differ  # last.ckpt is not a copy of best.ckpt
    final = torch.load(ckpt, weights_only=False)
    assert final["global_step"] == best["global_step"]
    _, meta = load_model(ckpt)
    assert meta["best_val_criterion"] == pytest.approx(summary["best_criterion"])
    assert 0 < meta["train_spike_rate"] < 0.1


def test_selection_picks_the_validation_best_candidate(tmp_path):
    from neurodepth.learning.selection import select_candidate

    scores = {0: 0.0105, 1: 0.0098, 2: None, 3: 0.0098}
    dirs = {}
    for index, score in scores.items():
        d = tmp_path / f"c{index}"
        d.mkdir()
        (d / "model.ckpt").write_bytes(f"weights {index}".encode())
        (d / "training_log.csv").write_text("step\n")
        summary = {"best_criterion": score, "best_criterion_se": 0.0003, "architecture": {}}
        (d / "training_summary.json").write_text(json.dumps(summary))
        dirs[index] = d
    record = select_candidate(dirs, tmp_path / "selected")
    # the lowest criterion wins; a tie goes to the lower index; no criterion never wins
    assert record["selected_candidate"] == 1
    assert (tmp_path / "selected" / "model.ckpt").read_bytes() == b"weights 1"
    saved = json.loads((tmp_path / "selected" / "selection.json").read_text())
    assert [c["criterion"] for c in saved["candidates"]] == [0.0105, 0.0098, None, 0.0098]


def test_hanley_mcneil_standard_error():
    from neurodepth.learning.selection import hanley_mcneil_se

    # by hand: Q1 = 0.9/1.1, Q2 = 2 * 0.81/1.9; (0.09 + 49 (Q1 - 0.81) + 49 (Q2 - 0.81)) / 2500
    assert hanley_mcneil_se(0.9, 50, 50) == pytest.approx(0.03212, abs=1e-4)
    assert hanley_mcneil_se(0.9, 200, 50) < hanley_mcneil_se(0.9, 50, 50)
    assert np.isnan(hanley_mcneil_se(0.9, 0, 50))


def test_divergence_stops_and_keeps_last_good_checkpoint(toy_path, tmp_path):
    out = tmp_path / "run"
    train_model(toy_path, toy_path, out, ARCH, _cfg(val_every=10), seed=0, max_steps=10)
    good = torch.load(out / "last.ckpt", weights_only=False)
    assert good["global_step"] == 10
    with pytest.raises(TrainingDivergedError, match="step 10"):
        train_model(
            toy_path,
            toy_path,
            out,
            ARCH,
            _cfg(val_every=10, divergence_loss=1e-9),
            seed=0,
            max_steps=30,
        )
    kept = torch.load(out / "last.ckpt", weights_only=False)
    assert kept["global_step"] == 10
    for k, v in kept["state_dict"].items():
        assert torch.equal(v, good["state_dict"][k])
    assert not (out / "model.ckpt").exists()


def test_safe_checkpoint_refuses_non_finite_weights(tmp_path):
    from types import SimpleNamespace

    from neurodepth.learning.checkpoints import save_checkpoint_safely

    module = _module(TCN(4, ARCH["kernels"], ARCH["width"]), _cfg())
    with torch.no_grad():
        module.model.soma_head.weight[0, 0, 0] = float("nan")
    target = tmp_path / "last.ckpt"
    target.write_bytes(b"good")
    trainer = SimpleNamespace(lightning_module=module, global_step=7, save_checkpoint=None)
    with pytest.raises(TrainingDivergedError, match="soma_head.weight"):
        save_checkpoint_safely(trainer, target)
    assert target.read_bytes() == b"good"


def test_phase_schedule_by_step():
    module = _module(TCN(4, ARCH["kernels"], ARCH["width"]), _cfg(steps=(100, 50)))
    assert module.phase_at(0)["lr"] == 0.01 and module.phase_at(99)["spike_weight"] == 1.0
    assert module.phase_at(100)["lr"] == 0.003 and module.phase_at(10_000)["soma_weight"] == 0.01


def test_module_stores_what_rebuilds_the_network_it_was_given():
    torch.manual_seed(3)
    model = build_network("tcn", 4, ARCH)
    module = _module(model, _cfg())
    assert module.model is model
    hp = dict(module.hparams)
    assert (hp["family"], hp["n_inputs"], hp["n_dendritic"]) == ("tcn", 4, 0)
    assert hp["architecture"] == ARCH and "model" not in hp


def test_same_seed_gives_the_same_weights_as_the_tcn_built_directly():
    # The network is built outside the LightningModule now; for one seed its initial weights must
    # be those of TCN(...) right after seeding, as when the module built it itself.
    torch.manual_seed(11)
    direct = TCN(16, ARCH["kernels"], ARCH["width"], init_std=0.01)
    torch.manual_seed(11)
    built = build_network("tcn", 16, ARCH, init_std=_cfg()["init_std"])
    for (name, a), b in zip(direct.state_dict().items(), built.state_dict().values()):
        assert torch.equal(a, b), name


def test_resume_refuses_checkpoint_of_another_architecture(toy_path, tmp_path):
    out = tmp_path / "run"
    train_model(toy_path, toy_path, out, ARCH, _cfg(val_every=5), seed=0, max_steps=5)
    other = {"depth": 2, "kernels": [20, 5], "width": 8}
    with pytest.raises(ConfigError, match="last.ckpt was trained with architecture"):
        train_model(toy_path, toy_path, out, other, _cfg(val_every=5), seed=0, max_steps=10)


class CausalFilter(torch.nn.Module):
    """A second family for the tests: one causal linear filter per output (no hidden layer)."""

    def __init__(self, n_inputs: int, depth: int, kernel: int, n_dendritic: int = 0):
        super().__init__()
        self.n_inputs, self.depth, self.kernel, self.n_dendritic = (
            n_inputs,
            depth,
            kernel,
            n_dendritic,
        )
        self.filters = torch.nn.Conv1d(n_inputs, 2 + n_dendritic, kernel)
        with torch.no_grad():
            self.filters.weight.mul_(0.1)

    def forward(self, x):
        y = self.filters(torch.nn.functional.pad(x, (self.kernel - 1, 0)))
        out = {"spike_logit": y[:, 0], "soma": y[:, 1]}
        if self.n_dendritic:
            out["dendritic"] = y[:, 2:]
        return out

    @property
    def n_parameters(self):
        return sum(p.numel() for p in self.parameters())

    @property
    def receptive_field(self):
        return self.kernel

    @property
    def macs_per_ms(self):
        return self.n_inputs * (2 + self.n_dendritic) * self.kernel

    def architecture(self):
        return {"depth": self.depth, "kernel": self.kernel}


def _filter_architecture(size, network_cfg):
    return {"depth": int(size), "kernel": 10 * int(size)}


def _build_filter(n_inputs, architecture, n_dendritic=0, init_std=None):
    return CausalFilter(n_inputs, architecture["depth"], architecture["kernel"], n_dendritic)


FILTER = NetworkFamily(architecture=_filter_architecture, build=_build_filter)


def test_a_registered_second_family_trains_and_loads_back(toy_path, tmp_path):
    FAMILIES.register("test_filter", FILTER)
    arch = FAMILIES["test_filter"].architecture(3, {})
    ckpt = train_model(
        toy_path,
        toy_path,
        tmp_path / "run",
        arch,
        _cfg(steps=(20, 10), val_every=10),
        0,
        family="test_filter",
    )
    model, meta = load_model(ckpt)
    assert isinstance(model, CausalFilter) and not model.training
    assert meta["family"] == "test_filter" and meta["architecture"] == {"depth": 3, "kernel": 30}
    assert meta["receptive_field"] == 30 and meta["n_parameters"] == 16 * 2 * 30 + 2
    assert meta["best_val_spike_auc"] is not None
    # load_model rebuilt the family's module and put the checkpoint's weights into it.
    trained = torch.load(ckpt, weights_only=False)["state_dict"]["model.filters.weight"]
    assert torch.equal(model.filters.weight, trained)
    # Resuming with another family's network is refused, naming both.
    (tmp_path / "run" / "model.ckpt").unlink()
    with pytest.raises(ConfigError, match="test_filter"):
        train_model(toy_path, toy_path, tmp_path / "run", ARCH, _cfg(), 0, family="tcn")
