"""Training benchmarks: Lightning overhead vs a bare PyTorch loop, data-loader wait, TCN throughput.

Same model, same batches (the same NeuronDataModule over the same synthetic dataset in the paper's
shape: 1278 channels, 6 s simulations, ~1 % input density), same optimiser. Baseline (bare loop)
and candidate (pl.Trainer as train_model configures it, minus validation/checkpoints) are
interleaved round by round, because the machine is shared and its speed drifts.

    .venv/bin/python benchmarks/bench_training.py                 # CPU
    .venv/bin/python benchmarks/bench_training.py --device cuda   # GPU (bf16 autocast)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from _synthetic import synthetic_attrs

from neurodepth.core.config import section_defaults
from neurodepth.data.shards import build_shard_dataset, write_shard
from neurodepth.learning.datamodule import NeuronDataModule
from neurodepth.learning.lightning_module import NeuronLightningModule
from neurodepth.learning.networks import build_network
from neurodepth.learning.networks.tcn import TCN


def make_dataset(path: Path, n_sim: int, duration_ms: int, n_channels: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    inputs = rng.random((n_sim, n_channels, duration_ms)) < 0.01
    soma = rng.normal(-67, 3, (n_sim, duration_ms)).astype(np.float32)
    spikes = [np.sort(rng.uniform(0, duration_ms, rng.integers(0, 12))) for _ in range(n_sim)]
    attrs = synthetic_attrs(seed, duration_ms)
    write_shard(build_shard_dataset(inputs, soma, spikes, attrs), path)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def bare_loop(module: NeuronLightningModule, loader, steps: int, device: str, warmup: int = 3):
    """Plain PyTorch: returns (per-step seconds, per-step seconds spent waiting for data)."""
    model = module.model.to(device).train()
    opt = torch.optim.NAdam(model.parameters(), lr=module.phases[0]["lr"])
    it = iter(loader)
    periods, waits = [], []
    phase = module.phases[0]
    t_prev = time.perf_counter()
    for step in range(steps + warmup):
        t0 = time.perf_counter()
        batch = next(it)
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        t1 = time.perf_counter()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            out = model(batch["inputs"].float())
            spike = torch.nn.functional.binary_cross_entropy_with_logits(
                out["spike_logit"].float(), batch["spike"]
            )
            soma = torch.nn.functional.mse_loss(out["soma"].float(), batch["soma"])
            loss = (
                phase["spike_weight"] * spike
                + phase["soma_weight"] * soma
                + module.l2 * module._l2()
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())  # the Lightning module reads the loss each step too (divergence guard)
        sync(device)
        t2 = time.perf_counter()
        if step >= warmup:
            periods.append(t2 - t_prev)
            waits.append(t1 - t0)
        t_prev = t2
    return periods, waits


class StepTimer(pl.Callback):
    def __init__(self, device, warmup=3):
        self.device, self.warmup, self.starts = device, warmup, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        sync(self.device)
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module):
        sync(self.device)
        self.starts.append(time.perf_counter())

    def periods(self):
        s = self.starts[self.warmup :]
        return list(np.diff(s))


def lightning_run(module, dm, steps, device, warmup=3):
    timer = StepTimer(device, warmup)
    trainer = pl.Trainer(
        accelerator="gpu" if device == "cuda" else "cpu",
        devices=1,
        precision="bf16-mixed" if device == "cuda" else "32-true",
        max_steps=steps + warmup,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=pl.loggers.CSVLogger(tempfile.mkdtemp()),
        log_every_n_steps=10,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, datamodule=dm)
    return timer.periods()


@torch.inference_mode()
def throughput(
    model: TCN, device: str, batch: int, window: int, n_inputs: int, train: bool, reps: int
):
    """Windows per second (forward only, or forward+backward+step when ``train``)."""
    x = (torch.rand(batch, n_inputs, window, device=device) < 0.01).float()
    ctx = torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda")
    if train:
        torch.set_grad_enabled(True)
        model.train()
        opt = torch.optim.NAdam(model.parameters(), lr=1e-4)
    else:
        model.eval()
    times = []
    for r in range(reps + 1):
        sync(device)
        t0 = time.perf_counter()
        with torch.inference_mode(not train), ctx:
            out = model(x)
            if train:
                loss = out["spike_logit"].float().mean() + out["soma"].float().pow(2).mean()
        if train:
            opt.zero_grad()
            loss.backward()
            opt.step()
        sync(device)
        if r:
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--steps", type=int, default=20, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU")
    ap.add_argument(
        "--kernels", default="31,9,9,9", help="overhead model (default config, depth 4)"
    )
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=int, default=400)
    ap.add_argument("--sims", type=int, default=16)
    ap.add_argument("--big-reps", type=int, default=3, help="repetitions for the 7x128 throughput")
    ap.add_argument(
        "--big-batch",
        type=int,
        nargs="+",
        default=None,
        help="batch sizes for the 7x128 throughput (default: --batch)",
    )
    args = ap.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    else:
        torch.backends.cudnn.benchmark = True
    pl.seed_everything(0, workers=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench_training_"))
    data = tmp / "train.nc"
    make_dataset(data, args.sims, 6000, 1278)
    cfg = section_defaults("training") | {
        "window_ms": args.window,
        "min_window_end_ms": 500,
        "batch_size": args.batch,
        "num_workers": args.workers,
    }
    phases = [{"steps": 10_000, "lr": 1e-3, "spike_weight": 1.0, "soma_weight": 0.02}]
    arch = {
        "depth": len(args.kernels.split(",")),
        "kernels": [int(k) for k in args.kernels.split(",")],
        "width": args.width,
    }
    print(
        f"device={args.device} threads={torch.get_num_threads()} workers={args.workers} "
        f"model={arch} batch={args.batch}x{args.window}ms dataset={args.sims}x6s x1278ch"
    )

    bare_p, bare_w, light_p, round_ratios = [], [], [], []

    def make_module():
        return NeuronLightningModule(
            build_network("tcn", 1278, arch, init_std=cfg["init_std"]),
            phases,
            family="tcn",
            l2=cfg["l2"],
            divergence_loss=cfg["divergence_loss"],
        )

    for r in range(args.rounds):
        dm = NeuronDataModule(data, data, cfg, seed=r)
        dm.setup("fit")
        module = make_module()
        p, w = bare_loop(module, dm.train_dataloader(), args.steps, args.device)
        bare_p += p
        bare_w += w
        dm = NeuronDataModule(data, data, cfg, seed=r)
        module = make_module()
        lp = lightning_run(module, dm, args.steps, args.device)
        light_p += lp
        round_ratios.append(statistics.median(lp) / statistics.median(p))
        print(
            f"round {r}: bare {statistics.median(p) * 1e3:.1f} ms/step, "
            f"lightning {statistics.median(light_p[-args.steps :]) * 1e3:.1f} ms/step"
        )
    b, light = statistics.median(bare_p), statistics.median(light_p)
    wait = sum(bare_w) / sum(bare_p)
    print(
        f"RESULT step time: bare {b * 1e3:.1f} ms, lightning {light * 1e3:.1f} ms, "
        f"ratio {light / b:.3f} (target <= 1.1)"
    )
    print(
        f"RESULT per-round median ratio {statistics.median(round_ratios):.3f} "
        f"(rounds: {', '.join(f'{r:.2f}' for r in round_ratios)}); "
        f"fastest step: bare {min(bare_p) * 1e3:.1f} ms, "
        f"lightning {min(light_p) * 1e3:.1f} ms, ratio {min(light_p) / min(bare_p):.3f}"
    )
    print(
        f"RESULT data-loader wait: {100 * wait:.1f} % of step time (target <= 5 %), "
        f"median wait {statistics.median(bare_w) * 1e3:.2f} ms"
    )

    big = TCN(1278, [35] * 7, 128).to(args.device)
    print(
        f"7x128 TCN: {big.n_parameters / 1e6:.2f} M parameters, "
        f"receptive field {big.receptive_field} ms, "
        f"{big.macs_per_ms / 1e6:.2f} M MACs per ms"
    )
    for bs in args.big_batch or [args.batch]:
        for train in (False, True):
            wps = throughput(big, args.device, bs, args.window, 1278, train, args.big_reps)
            print(
                f"RESULT 7x128 TCN {'training' if train else 'inference'} throughput: "
                f"{wps:.2f} windows/s "
                f"(batch {bs} x {args.window} ms)"
            )


if __name__ == "__main__":
    main()
