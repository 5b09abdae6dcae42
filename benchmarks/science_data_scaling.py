"""Data-scaling study (issue 15, item 1): test spike AUC and TPR against training-set size.

For each variant (``full``, ``no_nmda``) the default config's simulation settings make training
shards 0..N-1 and larger-than-default validation and test sets. Shard seeds derive from (seed,
cell, variant, split, shard) as in the pipeline, so the first ``simulation.shards.train``
training shards (the "1x" set; 0-7 in the default) are the default pipeline's training data, the
first ``shards.valid`` / ``shards.test`` validation / test shards are its validation / test sets,
and every larger training set holds every smaller one. Inputs are drawn at the variant's
calibrated scale (``--calibration``: the pipeline's results/calibration/<cell>/<variant>.csv), as
the pipeline draws them. Then, for each size k (x the default 192 s), the first
k x ``shards.train`` training shards are merged, networks of the default architecture are trained
with the pipeline's protocol (``train_model``: early stopping on validation spike BCE, the step
budget below as the cap), and
scored with the evaluation protocol on the test set (12 subsets: mean +- SD) and on the 1x
training set (train AUC: all of the training data at 1x, a 1/k slice of it at k x, which shows
memorisation). The pipeline's no-training baseline (``neurodepth.analysis.baseline``: input counts
through a fitted exponential filter, logistic read-out) is fitted on the 1x set and scored the
same way.

All state lives under ``--work`` (default /tmp/scaling); every stage skips what exists, so a
killed run resumes by repeating the command. Run from the repository root, e.g.::

    W=/tmp/scaling; PY=.venv/bin/python; S=benchmarks/science_data_scaling.py
    C=results/calibration/stylized_l5pc
    nice -n 19 $PY $S --work $W simulate --variant full --calibration $C/full.csv \
        --train-shards 256 --jobs 2
    nice -n 19 $PY $S --work $W train --variant full --sizes 1 2 4 8 16 --depths 1 4 --jobs 2
    nice -n 19 $PY $S --work $W evaluate --variant full
    nice -n 19 $PY $S --work $W baseline --variant full
    $PY $S --work $W report --md docs/figures/data_scaling.md --png docs/figures/data_scaling.png

``--mechanisms DIR`` names compiled NMODL (compiled there if missing).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
TPR_KEY = "tpr_at_fpr_0.0025"


# ---- config --------------------------------------------------------------------------------


def load(config_path) -> dict:
    from neurodepth.ops.study_config import load_study_config

    return load_study_config(config_path)


def default_shards(config: dict) -> int:
    """Training shards of the config (the 1x set; the default's 192 s)."""
    return int(config["simulation"]["shards"]["train"])


def cell_stem(config: dict) -> str:
    return Path(config["cell"]["name"]).stem


# ---- simulate --------------------------------------------------------------------------------

_CELL = None


def _worker_init(config: dict, variant: str, mechanisms: str, threads_env: str) -> None:
    """Build the variant's cell once per worker process (the pipeline builds it once per shard)."""
    global _CELL
    os.environ["OMP_NUM_THREADS"] = threads_env
    from neurodepth.simulation.simulate import build_variant_cell

    _CELL = build_variant_cell(config["cell"]["name"], variant, mechanisms, None)


def _simulate_one(
    config: dict, variant: str, split: str, shard: int, out: str, input_scale: float | None
) -> dict:
    from neurodepth.core.config import simulation_hash
    from neurodepth.data.shards import write_shard
    from neurodepth.simulation.simulate import ShardJob, simulate_shard

    c0, w0 = time.process_time(), time.perf_counter()
    job = ShardJob(
        config["cell"]["name"],
        variant,
        split,
        shard,
        config["seed"],
        config["simulation"],
        config["inputs"][variant],
        config_hash=simulation_hash(config, variant),
        input_scale=input_scale,
    )
    ds = simulate_shard(job, progress=False, cell=_CELL)
    write_shard(ds, out)
    return {
        "variant": variant,
        "split": split,
        "shard": shard,
        "simulated_s": ds.sizes["simulation"] * ds.sizes["time"] / 1000.0,
        "output_spikes": int(ds.sizes.get("spike", 0)),
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - w0,
        "finished": time.time(),
    }


def shard_path(work: Path, variant: str, split: str, shard: int) -> Path:
    return work / "shards" / variant / split / f"shard_{shard:04d}.nc"


def cmd_simulate(args, config: dict) -> None:
    from neurodepth.cells.mechanisms_build import compile_mechanisms
    from neurodepth.simulation.calibration import read_calibrated_scale

    mech = Path(args.mechanisms)
    if not (mech / "mechanisms.json").exists():
        compile_mechanisms(mech)
    targeted = config["inputs"][args.variant].get("target_rate_hz") is not None
    if targeted and not args.calibration:
        raise SystemExit(
            f"inputs.{args.variant}.target_rate_hz is set: pass --calibration with the pipeline's "
            "calibration file, so the shards are drawn at the pipeline's rates"
        )
    scale = read_calibrated_scale(args.calibration, args.variant) if targeted else None
    print(f"{args.variant}: input scale {scale}", flush=True)
    # Evaluation sets first, then training shards in order: every prefix is a usable size.
    tasks = [("valid", i) for i in range(args.eval_shards)]
    tasks += [("test", i) for i in range(args.eval_shards)]
    n_train = args.train_shards or 16 * default_shards(config)
    tasks += [("train", i) for i in range(n_train)]
    todo = [(s, i) for s, i in tasks if not shard_path(args.work, args.variant, s, i).exists()]
    for split in ("train", "valid", "test"):
        (args.work / "shards" / args.variant / split).mkdir(parents=True, exist_ok=True)
    log_path = args.work / "timing" / f"simulate_{args.variant}.jsonl"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    print(f"{args.variant}: {len(todo)} of {len(tasks)} shards to simulate", flush=True)
    if not todo:
        return
    import multiprocessing as mp

    with ProcessPoolExecutor(
        max_workers=args.jobs,
        mp_context=mp.get_context("spawn"),
        initializer=_worker_init,
        initargs=(config, args.variant, str(mech), "1"),
    ) as pool:
        futures = [
            pool.submit(
                _simulate_one,
                config,
                args.variant,
                s,
                i,
                str(shard_path(args.work, args.variant, s, i)),
                scale,
            )
            for s, i in todo
        ]
        for fut in futures:
            row = fut.result()
            with log_path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                f"{row['variant']}/{row['split']}/{row['shard']:04d}: {row['output_spikes']} "
                f"spikes, {row['cpu_s']:.1f} CPU-s for {row['simulated_s']:.0f} s",
                flush=True,
            )


# ---- datasets ----------------------------------------------------------------------------------


def dataset_path(work: Path, variant: str, name: str) -> Path:
    return work / "datasets" / variant / f"{name}.nc"


def ensure_dataset(work: Path, variant: str, split: str, n_shards: int, name: str) -> Path:
    from neurodepth.data.shards import merge_shards

    out = dataset_path(work, variant, name)
    if out.exists():
        return out
    paths = [shard_path(work, variant, split, i) for i in range(n_shards)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"{len(missing)} shards missing for {name}, e.g. {missing[0]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return merge_shards(paths, out)


def eval_shard_count(work: Path, variant: str, split: str) -> int:
    n = 0
    while shard_path(work, variant, split, n).exists():
        n += 1
    return n


# ---- train -----------------------------------------------------------------------------------


def step_budget(n_train_sims: int, config: dict, args) -> int:
    """max(min_steps, epochs x one pass over the training milliseconds), capped; rounded to the
    validation interval. One pass = training ms / (batch x window ms)."""
    tr = config["training"]
    duration = config["simulation"]["duration_ms"]
    one_pass = n_train_sims * duration / (tr["batch_size"] * tr["window_ms"])
    steps = max(args.min_steps, math.ceil(args.epochs * one_pass))
    steps = min(steps, args.max_steps)
    val = tr["val_every_steps"]
    return int(math.ceil(steps / val) * val)


def scaled_phases(config: dict, steps: int) -> list[dict]:
    """The config's phases with their step counts scaled to ``steps`` (same proportions)."""
    phases = copy.deepcopy(config["training"]["phases"])
    total = sum(p["steps"] for p in phases)
    done = 0
    for p in phases[:-1]:
        p["steps"] = max(1, round(p["steps"] * steps / total))
        done += p["steps"]
    phases[-1]["steps"] = steps - done
    return phases


def run_dir(work: Path, variant: str, size: int, depth: int, tag: str = "") -> Path:
    return work / "runs" / variant / f"x{size}_d{depth}{tag}"


def _train_one(config: dict, variant: str, size: int, depth: int, args_dict: dict) -> dict:
    import torch

    from neurodepth.learning.networks import FAMILIES
    from neurodepth.learning.train import train_model

    torch.set_num_threads(1)
    work = Path(args_dict["work"])
    train = dataset_path(work, variant, f"train_x{size}")
    valid = dataset_path(work, variant, "valid")
    from neurodepth.data.reader import DatasetReader

    with DatasetReader(train) as reader:
        n_sims = reader.n_simulations
        n_spikes = int(reader.spike_count.sum())
    ns = argparse.Namespace(**args_dict)
    steps = step_budget(n_sims, config, ns)
    training = copy.deepcopy(config["training"])
    training["phases"] = scaled_phases(config, steps)
    training["progress_bar"] = False
    training["num_workers"] = 0
    if args_dict.get("patience"):
        training["patience_validations"] = int(args_dict["patience"])
    family = config["network"]["family"]
    network_cfg = dict(config["network"])
    if args_dict.get("width"):
        network_cfg["width"] = int(args_dict["width"])
    arch = FAMILIES[family].architecture(depth, network_cfg)
    tag = args_dict.get("tag", "")
    out = run_dir(work, variant, size, depth, tag)
    c0, w0 = time.process_time(), time.perf_counter()
    seed = int(args_dict.get("seed") or config["network"]["seeds"][0])
    train_model(train, valid, out, arch, training, seed=seed, family=family)
    summary = json.loads((out / "training_summary.json").read_text())
    info = {
        "variant": variant,
        "size": size,
        "depth": depth,
        "tag": tag,
        "seed": seed,
        "width": arch["width"],
        "train_sims": n_sims,
        "train_seconds": n_sims * config["simulation"]["duration_ms"] / 1000.0,
        "train_output_spikes": n_spikes,
        "steps": steps,
        "patience_validations": training["patience_validations"],
        "selected_step": summary["selected_step"],
        "stopped_step": summary["stopped_step"],
        "capped": summary["capped"],
        "best_val_bce": summary["best_criterion"],
        "best_val_bce_se": summary["best_criterion_se"],
        "memorisation_suspect": summary["memorisation_suspect"],
        "cpu_s": time.process_time() - c0,
        "wall_s": time.perf_counter() - w0,
    }
    (out / "run.json").write_text(json.dumps(info, indent=1))
    return info


def cmd_train(args, config: dict) -> None:
    import multiprocessing as mp

    n_eval = eval_shard_count(args.work, args.variant, "valid")
    ensure_dataset(args.work, args.variant, "valid", n_eval, "valid")
    ensure_dataset(
        args.work, args.variant, "test", eval_shard_count(args.work, args.variant, "test"), "test"
    )
    for size in args.sizes:
        ensure_dataset(
            args.work, args.variant, "train", default_shards(config) * size, f"train_x{size}"
        )
    jobs = [
        (size, depth)
        for size in args.sizes
        for depth in args.depths
        if not (run_dir(args.work, args.variant, size, depth, args.tag) / "run.json").exists()
    ]
    args_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args_dict.pop("func", None)
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [
            pool.submit(_train_one, config, args.variant, size, depth, args_dict)
            for size, depth in jobs
        ]
        for fut in futures:
            info = fut.result()
            print(json.dumps(info), flush=True)


# ---- evaluate ------------------------------------------------------------------------------


def cmd_evaluate(args, config: dict) -> None:
    import torch

    from neurodepth.learning.evaluate import evaluate_checkpoint

    torch.set_num_threads(1)
    test = dataset_path(args.work, args.variant, "test")
    train1 = dataset_path(args.work, args.variant, "train_x1")
    for out in sorted((args.work / "runs" / args.variant).glob("x*_d*")):
        if args.sizes and int(out.name[1:].split("_")[0]) not in args.sizes:
            continue
        ckpt = out / "model.ckpt"
        if not (out / "run.json").exists() or (out / "metrics_train.csv").exists():
            continue
        run_seed = json.loads((out / "run.json").read_text()).get("seed", 0)
        c0 = time.process_time()
        for name, path in (("test", test), ("train", train1)):
            evaluate_checkpoint(
                ckpt,
                path,
                config["evaluation"],
                out / f"metrics_{name}.csv",
                out / f"predictions_{name}.nc",
                meta={"variant": args.variant, "seed": run_seed},
                device="cpu",
            )
        print(f"{out.name}: evaluated in {time.process_time() - c0:.0f} CPU-s", flush=True)


# ---- the no-training reference predictor ------------------------------------------------------


def subset_stats(metrics: pd.DataFrame, metric: str) -> dict:
    """One metric of a metrics.csv: its value on the whole test set (``all``), and the mean and
    SD over the evaluation's random subsets."""
    rows = metrics[metrics["metric"] == metric]
    whole = rows["subset"].astype(str) == "all"
    subsets = rows.loc[~whole, "value"]
    return {
        "all": float(rows.loc[whole, "value"].iloc[0]),
        "mean": float(subsets.mean()),
        "sd": float(subsets.std(ddof=1)),
    }


def cmd_baseline(args, config: dict) -> None:
    """The pipeline's no-training baseline (``evaluate_baseline``, as rule evaluate_baseline runs
    it), fitted on the 1x training set and scored on the test set."""
    from neurodepth.data.predictions import read_prediction_attrs
    from neurodepth.learning.evaluate import evaluate_baseline

    train_path = ensure_dataset(
        args.work, args.variant, "train", default_shards(config), "train_x1"
    )
    n_test = eval_shard_count(args.work, args.variant, "test")
    test_path = ensure_dataset(args.work, args.variant, "test", n_test, "test")
    out = args.work / "baseline" / args.variant
    metrics = evaluate_baseline(
        train_path,
        test_path,
        config["evaluation"],
        config["summary"]["baseline"]["tau_grid_ms"],
        {"cell": cell_stem(config), "variant": args.variant, "depth": 0, "seed": 0},
        out / "metrics.csv",
        out / "predictions.nc",
    )
    tau = float(read_prediction_attrs(out / "predictions.nc")["baseline_tau_spike_ms"])
    rows = [
        {"variant": args.variant, "split": "test", "tau_spike_ms": tau, "metric": metric}
        | subset_stats(metrics, metric)
        for metric in ("spike_auc", TPR_KEY)
    ]
    path = args.work / "baseline" / f"{args.variant}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    print(pd.DataFrame(rows).to_string(index=False), flush=True)


# ---- report ------------------------------------------------------------------------------------


def collect(work: Path) -> pd.DataFrame:
    rows = []
    for run in sorted(work.glob("runs/*/x*_d*/run.json")):
        info = json.loads(run.read_text())
        for name in ("test", "train"):
            path = run.parent / f"metrics_{name}.csv"
            if not path.exists():
                continue
            m = pd.read_csv(path)
            for metric, key in (("spike_auc", "auc"), (TPR_KEY, "tpr")):
                for stat, value in subset_stats(m, metric).items():
                    info[f"{name}_{key}_{stat}"] = value
        rows.append(info)
    df = pd.DataFrame(rows)
    if len(df):
        df["tag"] = df["tag"].fillna("") if "tag" in df else ""
        df = df.sort_values(["variant", "tag", "depth", "size"]).reset_index(drop=True)
    return df


def _fmt(v, digits=3):
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def markdown_table(df: pd.DataFrame, baselines: pd.DataFrame) -> str:
    head = (
        "| variant | depth | training s (x default) | output spikes in training set | steps | "
        "selected / stopped step | train AUC (1x set) | test AUC mean +- SD | "
        "TPR at 0.25 % FP mean +- SD | training CPU-s |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for _, r in df.iterrows():
        test_auc = f"{_fmt(r.get('test_auc_mean'))} +- {_fmt(r.get('test_auc_sd'))}"
        test_tpr = f"{_fmt(r.get('test_tpr_mean'))} +- {_fmt(r.get('test_tpr_sd'))}"
        lines.append(
            f"| {r['variant']} | {r['depth']}{' ' + r['tag'] if r['tag'] else ''} | "
            f"{r['train_seconds']:.0f} ({r['size']}x) | "
            f"{r['train_output_spikes']} | {r['steps']} | "
            f"{r['selected_step']} / {r['stopped_step']}{' (capped)' if r['capped'] else ''} | "
            f"{_fmt(r.get('train_auc_all'))} | {test_auc} | {test_tpr} | {r['cpu_s']:.0f} |"
        )
    for _, b in baselines.iterrows():
        lines.append(
            f"| {b['variant']} | no-training baseline (tau {b['tau_spike_ms']:g} ms) "
            "| - | - | 0 | - | - "
            f"| {_fmt(b['auc_mean'])} +- {_fmt(b['auc_sd'])} | {_fmt(b['tpr_mean'])} +- "
            f"{_fmt(b['tpr_sd'])} | - |"
        )
    return head + "\n".join(lines) + "\n"


def load_baselines(work: Path) -> pd.DataFrame:
    rows = []
    for path in sorted(work.glob("baseline/*.csv")):
        b = pd.read_csv(path)
        b = b[b["split"] == "test"]
        if not len(b):
            continue
        auc = b[b["metric"] == "spike_auc"].iloc[0]
        tpr = b[b["metric"] == TPR_KEY].iloc[0]
        rows.append(
            {
                "variant": auc["variant"],
                "tau_spike_ms": float(auc["tau_spike_ms"]),
                "auc_mean": auc["mean"],
                "auc_sd": auc["sd"],
                "tpr_mean": tpr["mean"],
                "tpr_sd": tpr["sd"],
            }
        )
    return pd.DataFrame(rows)


def _run_kind(tag: str) -> str:
    """How a run folder's tag is drawn: the size curves (no tag: the default budget; ``_long``:
    the long budget), replicate seeds of the long budget (``_long_s<k>``), or a single control."""
    if tag in ("", "_long"):
        return "curve"
    if re.fullmatch(r"_long_s\d+", tag):
        return "seed"
    return "control"


def figure(df: pd.DataFrame, baselines: pd.DataFrame, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    colors = {"full": "tab:blue", "no_nmda": "tab:orange"}
    markers = {1: "o", 4: "s", 7: "^"}
    kinds = df["tag"].map(_run_kind)
    for (variant, depth, tag), g in df[kinds == "curve"].groupby(["variant", "depth", "tag"]):
        long = tag == "_long"
        for ax, key in zip(axes, ("auc", "tpr")):
            ax.errorbar(
                g["train_seconds"],
                g[f"test_{key}_mean"],
                yerr=g[f"test_{key}_sd"],
                marker=markers.get(depth, "D"),
                ls="-" if long else ":",
                color=colors.get(variant, "k"),
                mfc=None if long else "none",
                capsize=3,
                label=f"{variant}, depth {depth}, {'long' if long else 'default'} budget",
            )
    seeds = df[kinds == "seed"]
    for (variant, depth), g in seeds.groupby(["variant", "depth"]):
        for ax, key in zip(axes, ("test_auc_mean", "test_tpr_mean")):
            ax.plot(
                g["train_seconds"] * 1.06,
                g[key],
                markers.get(depth, "D"),
                color=colors.get(variant, "k"),
                alpha=0.5,
                label=f"{variant}, depth {depth}, long budget, seeds "
                + ", ".join(str(v) for v in sorted(g["seed"])),
            )
    others = df[kinds == "control"]
    labelled = set()
    for _, c in others.iterrows():
        label = (
            f"{c['variant']}, depth {c['depth']}, width {c.get('width', 32):.0f} (run {c['tag']})"
        )
        label = None if label in labelled else label
        labelled.add(label)
        for ax, key in zip(axes, ("test_auc_mean", "test_tpr_mean")):
            ax.plot(
                c["train_seconds"] * 0.94,
                c[key],
                "x" if c["depth"] < 7 else "+",
                ms=8,
                mew=2,
                color=colors.get(c["variant"], "k"),
                label=label if ax is axes[1] else None,
            )
    for _, b in baselines.iterrows():
        for ax, key in zip(axes, ("auc_mean", "tpr_mean")):
            ax.axhline(
                b[key],
                color=colors.get(b["variant"], "k"),
                ls="--",
                lw=0.8,
                label=f"{b['variant']}: no-training baseline",
            )
    axes[0].set_ylabel("test spike AUC (12 subsets: mean +- SD)")
    axes[1].set_ylabel("test TPR at 0.25 % false positives")
    sizes = sorted(df["train_seconds"].unique())
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xticks(sizes, [f"{s:.0f}" for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training data per variant (simulated s)")
        ax.grid(alpha=0.3)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=7)
    fig.suptitle(
        "stylized L5PC: accuracy against training-set size "
        "(TCN width 32 unless named; open markers: default budget)"
    )
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=120)


def cmd_report(args, config: dict) -> None:
    df = collect(args.work)
    baselines = load_baselines(args.work)
    df.to_csv(args.work / "results.csv", index=False)
    table = markdown_table(df, baselines)
    print(table)
    if args.md:
        Path(args.md).write_text(table)
    if args.png and len(df):
        figure(df, baselines, Path(args.png))
    sims = []
    for path in sorted(args.work.glob("timing/simulate_*.jsonl")):
        sims += [json.loads(line) for line in path.read_text().splitlines() if line]
    if sims:
        t = pd.DataFrame(sims).groupby("variant")[["simulated_s", "cpu_s", "wall_s"]].sum()
        t["cpu_s_per_simulated_s"] = t["cpu_s"] / t["simulated_s"]
        print(t.to_string())


def cmd_example(args, config: dict) -> None:
    """The pipeline's example_predictions figure for two runs of the study (the first named is
    drawn as the shallow one) on the test simulation with most output spikes."""
    from neurodepth.figures import _common
    from neurodepth.figures.example_predictions import from_predictions

    test = dataset_path(args.work, args.variant, "test")
    runs = [args.work / "runs" / args.variant / name for name in args.runs]
    labels = []
    for run in runs:
        info = json.loads((run / "run.json").read_text())
        labels.append(
            f"{info['train_seconds']:.0f} s of data, depth {info['depth']}, width "
            f"{info.get('width', config['network']['width'])}, seed {info['seed']}"
        )
    ds = _common.open_dataset(test, "dataset")
    fig = from_predictions(
        ds, test, *(run / "predictions_test.nc" for run in runs), labels=tuple(labels)
    )
    _common.save(fig, args.png)
    print(f"{args.png}: {' vs '.join(labels)}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--config", default=str(DEFAULT_CONFIG))
    p.add_argument("--work", type=Path, default=Path("/tmp/scaling"))
    p.add_argument("--mechanisms", default="/tmp/scaling/mech")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("simulate")
    s.add_argument("--variant", required=True)
    s.add_argument(
        "--train-shards", type=int, default=None, help="default: 16x the config's training shards"
    )
    s.add_argument("--eval-shards", type=int, default=8)
    s.add_argument("--jobs", type=int, default=2)
    s.add_argument(
        "--calibration",
        default="",
        help="the pipeline's calibration CSV of the variant (needed when it has target_rate_hz)",
    )
    s.set_defaults(func=cmd_simulate)

    t = sub.add_parser("train")
    t.add_argument("--variant", required=True)
    t.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    t.add_argument("--depths", type=int, nargs="+", default=[1, 4])
    t.add_argument("--min-steps", type=int, default=600)
    t.add_argument("--epochs", type=float, default=2.0)
    t.add_argument("--max-steps", type=int, default=2000)
    t.add_argument("--jobs", type=int, default=2)
    t.add_argument("--seed", type=int, default=None, help="default: the config's first seed")
    t.add_argument("--tag", default="", help="suffix of the run folder (controls, replicates)")
    t.add_argument("--width", type=int, default=None, help="default: the config's network.width")
    t.add_argument(
        "--patience",
        type=int,
        default=None,
        help="validations without improvement before stopping (default: the config's)",
    )
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate")
    e.add_argument("--variant", required=True)
    e.add_argument("--sizes", type=int, nargs="*", default=[])
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("baseline")
    b.add_argument("--variant", required=True)
    b.set_defaults(func=cmd_baseline)

    r = sub.add_parser("report")
    r.add_argument("--md", default="")
    r.add_argument("--png", default="")
    r.set_defaults(func=cmd_report)

    x = sub.add_parser("example")
    x.add_argument("--variant", required=True)
    x.add_argument("--runs", nargs=2, required=True, help="two run folders, e.g. x1_d4 x32_d7_long")
    x.add_argument("--png", required=True)
    x.set_defaults(func=cmd_example)

    args = p.parse_args()
    args.work = args.work.resolve()
    config = load(args.config)
    args.func(args, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
