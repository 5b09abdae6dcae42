"""Training and inference speed of each network family (TCN, ELM, GRU), side by side.

Every model trains on the same random binary inputs (``--density`` of 1 ms bins active, the
paper's ~1 %), batch ``--batch`` x ``--window-ms``, NAdam, spike BCE + soma MSE, one torch thread.
Models are interleaved round by round (``--rounds``), so a shared machine's drift hits them alike;
the time is CPU time of this process (``time.process_time``). The baseline is the default
config's depth-4 TCN; each model's ratio is its step time over the baseline's in the same rounds.

    .venv/bin/python benchmarks/bench_families.py --inputs 194 1278 --rounds 5 --steps 3

Prints a markdown table (ms per training step, training and inference windows per second, ratio to
the TCN) and, per recurrent family, the time per window-millisecond that its MACs do not explain:
the sequential loop's overhead that ``neurodepth cost`` adds to the MAC model
(``UNIT_COSTS['sequential_s_per_window_ms.<family>.cpu']``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from neurodepth.core.config import read_config_file
from neurodepth.learning.networks import FAMILIES, build_network
from neurodepth.ops import cost

MODELS = [("tcn", 4), ("tcn", 1), ("elm", 4), ("elm", 16), ("gru", 8), ("gru", 32)]


def architecture(family: str, size: int, network_cfg: dict) -> dict:
    if family == "tcn":
        return FAMILIES["tcn"].architecture(size, network_cfg)
    arch = FAMILIES[family].architecture(size, {})
    arch.pop("grouping", None)  # per-channel inputs: the benchmark has no segment table
    return arch


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, nargs="+", default=[194, 1278])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window-ms", type=int, default=400)
    parser.add_argument("--density", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    network_cfg = read_config_file("config/config.yaml")["network"]
    print(
        "| inputs | model | parameters | MACs/ms | train ms/step | train windows/s | "
        "inference windows/s | step / TCN d4 step |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n_inputs in args.inputs:
        gen = torch.Generator().manual_seed(0)
        x = (torch.rand(args.batch, n_inputs, args.window_ms, generator=gen) < args.density).float()
        spike = (torch.rand(args.batch, args.window_ms, generator=gen) < 0.002).float()
        soma = torch.randn(args.batch, args.window_ms, generator=gen)
        models = {}
        for family, size in MODELS:
            torch.manual_seed(0)
            model = build_network(family, n_inputs, architecture(family, size, network_cfg))
            models[(family, size)] = (model, torch.optim.NAdam(model.parameters(), lr=1e-3))
        train = {k: [] for k in models}
        infer = {k: [] for k in models}
        for _ in range(args.rounds + 1):  # the first round warms up and is dropped
            for key, (model, opt) in models.items():
                model.train()
                start = time.process_time()
                for _ in range(args.steps):
                    out = model(x)
                    loss = F.binary_cross_entropy_with_logits(out["spike_logit"], spike)
                    loss = loss + 0.02 * F.mse_loss(out["soma"], soma)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                train[key].append((time.process_time() - start) / args.steps)
                model.eval()
                start = time.process_time()
                with torch.inference_mode():
                    for _ in range(args.steps):
                        model(x)
                infer[key].append((time.process_time() - start) / args.steps)
        base = [t for t in train[("tcn", 4)][1:]]
        for key, (model, _) in models.items():
            step = statistics.median(train[key][1:])
            ratio = statistics.median(t / b for t, b in zip(train[key][1:], base, strict=True))
            print(
                f"| {n_inputs} | {key[0]} {key[1]} | {model.n_parameters:,} | "
                f"{model.macs_per_ms:,} | {1000 * step:.1f} | {args.batch / step:.0f} | "
                f"{args.batch / statistics.median(infer[key][1:]):.0f} | {ratio:.2f} |"
            )
            if key[0] != "tcn":
                gmacs = (
                    model.macs_per_ms
                    * args.window_ms
                    * args.batch
                    * cost.unit("backward_factor")
                    / 1e9
                )
                explained = cost.unit("train_step_overhead_s.cpu") + gmacs / cost.unit(
                    "train_gmac_per_s.cpu"
                )
                print(
                    f"|  | ↳ unexplained by MACs: {1e6 * (step - explained) / args.window_ms:.0f}"
                    " µs per window-ms | | | | | | |"
                )


if __name__ == "__main__":
    main()
