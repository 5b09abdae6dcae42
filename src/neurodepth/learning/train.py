"""One training job: ``train_model(train_path, valid_path, out_dir, architecture, training_cfg, seed)``.

Files in ``out_dir``:
- ``best.ckpt`` (working copy of the best-by-``val_spike_auc`` model) and ``last.ckpt`` (every
  validation, for resume); both written to a temporary name and renamed, and never from a state with
  non-finite weights;
- on completion ``model.ckpt`` (the best model; atomic copy of ``best.ckpt``) and
  ``training_log.csv`` (one row per logged step; merged over resumed runs).
A rerun finds ``last.ckpt`` and continues from its global step (optimizer, phase and best score
restored), which is how a job killed by the scheduler picks up where it stopped.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger

from neurodepth.core.atomic import atomic_path, write_csv_atomic
from neurodepth.core.errors import ConfigError, DatasetError, TrainingDivergedError
from neurodepth.learning.datamodule import NeuronDataModule
from neurodepth.learning.lightning_module import NeuronLightningModule, validate_phases
from neurodepth.learning.networks.tcn import TCN

log = logging.getLogger(__name__)

MONITOR = "val_spike_auc"


class SafeCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes atomically and refuses to save non-finite weights."""

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        module = trainer.lightning_module
        bad = [n for n, p in module.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDivergedError(
                f"non-finite weights ({bad[0]} and {len(bad) - 1} more) at step {trainer.global_step}; "
                f"not overwriting {filepath}"
            )
        with atomic_path(filepath) as tmp:
            super()._save_checkpoint(trainer, str(tmp))
        self._last_checkpoint_saved = filepath


def _precision_and_accelerator(training_cfg: dict) -> tuple[str, str]:
    accel = str(training_cfg.get("accelerator", "auto")).lower()
    if accel not in ("auto", "cpu", "gpu", "cuda"):
        raise ConfigError(f"training.accelerator must be auto, cpu or gpu, got {accel!r}")
    if accel in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError("training.accelerator is 'gpu' but no CUDA device is available")
    if accel != "cpu" and torch.cuda.is_available():
        return "gpu", "bf16-mixed"
    return "cpu", "32-true"


def _checkpoint_step(path: Path, architecture: dict) -> int:
    """Global step of ``last.ckpt``; refuses one written for another architecture."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a torn file cannot happen (atomic writes) but a foreign one can
        raise DatasetError(
            f"cannot read {path} to resume from ({err}); delete it to start afresh"
        ) from err
    saved = (ckpt.get("hyper_parameters") or {}).get("architecture") or {}
    if list(saved.get("kernels", [])) != [int(k) for k in architecture["kernels"]] or int(
        saved.get("width", -1)
    ) != int(architecture["width"]):
        raise ConfigError(
            f"{path} was trained with architecture {saved}, not {architecture}; "
            f"delete it (and best.ckpt) to retrain"
        )
    return int(ckpt.get("global_step", 0))


def _tidy_log(log_root: Path, out_csv: Path) -> None:
    """Merge CSVLogger files of every (resumed) run into one table, one row per step."""
    frames = [
        pd.read_csv(p)
        for p in sorted(
            log_root.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])
        )
    ]
    frames = [f for f in frames if len(f)]
    if not frames:
        write_csv_atomic(pd.DataFrame(columns=["step"]), out_csv)
        return
    df = pd.concat(frames, ignore_index=True)
    # Train and validation metrics of one step land on separate rows; merge them, later runs win.
    df = df.groupby("step", sort=True).last().reset_index()
    df = df.drop(columns=[c for c in ("epoch",) if c in df.columns])
    write_csv_atomic(df, out_csv)


def train_model(
    train_path,
    valid_path,
    out_dir,
    architecture: dict,
    training_cfg: dict,
    seed: int,
    max_steps: int | None = None,
    threads: int | None = None,
) -> Path:
    """Train one network; return the path of ``model.ckpt`` (best validation spike AUC).

    ``threads``: torch intra-op threads on CPU (pass the job's core count; on a busy machine
    more threads than cores makes OpenMP spin and run many times slower).
    ``max_steps`` (tests only) stops earlier than the sum of the phase steps, without finalising
    ``model.ckpt``; the run can then be resumed.
    """
    if threads:
        torch.set_num_threads(int(threads))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    phases = validate_phases(training_cfg.get("phases"))
    total_steps = sum(p["steps"] for p in phases)
    val_every = int(training_cfg.get("val_every_steps", 50))
    if val_every < 1:
        raise ConfigError(f"training.val_every_steps must be >= 1, got {val_every}")
    for key in ("depth", "kernels", "width"):
        if key not in architecture:
            raise ConfigError(f"architecture dict lacks {key!r}: {architecture}")

    last = out_dir / "last.ckpt"
    start_step = _checkpoint_step(last, architecture) if last.exists() else 0
    if start_step:
        log.info("resuming %s from %s at step %d", out_dir, last, start_step)
    pl.seed_everything(int(seed), workers=True)
    dm = NeuronDataModule(
        train_path, valid_path, training_cfg, seed=int(seed), start_step=start_step
    )
    module = NeuronLightningModule(
        n_inputs=dm.n_inputs,
        architecture=dict(architecture),
        phases=phases,
        l2=float(training_cfg.get("l2", 1e-8)),
        init_std=float(training_cfg.get("init_std", 0.01)),
        divergence_loss=float(training_cfg.get("divergence_loss", 1e6)),
        soma_bias_mv=dm.soma_bias_mv,
        seed=int(seed),
        data_identity=dm.data_identity,
    )

    accelerator, precision = _precision_and_accelerator(training_cfg)
    checkpoint = SafeCheckpoint(
        dirpath=out_dir,
        filename="best",
        monitor=MONITOR,
        mode="max",
        save_top_k=1,
        save_last=True,
        enable_version_counter=False,
        auto_insert_metric_name=False,
    )
    log_root = out_dir / "logs"
    # A new CSV version per (re)start: CSVLogger deletes an existing metrics file it reopens.
    logger = CSVLogger(save_dir=out_dir, name="logs", version=None)
    trainer = pl.Trainer(
        accelerator=accelerator,
        devices=1,
        precision=precision,
        max_steps=int(max_steps or total_steps),
        max_epochs=-1,
        val_check_interval=val_every,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        callbacks=[checkpoint],
        logger=logger,
        log_every_n_steps=min(10, val_every),
        enable_progress_bar=bool(training_cfg.get("progress_bar", True)),
        enable_model_summary=False,
        default_root_dir=out_dir,
    )
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=str(last) if last.exists() else None)
    finally:
        if log_root.exists():
            _tidy_log(log_root, out_dir / "training_log.csv")
    if max_steps is not None and max_steps < total_steps:
        return out_dir / "model.ckpt"

    final = out_dir / "model.ckpt"
    best = out_dir / "best.ckpt"
    with atomic_path(final) as tmp:
        if best.exists():
            shutil.copyfile(best, tmp)
        else:
            # No validation ran (fewer steps than val_every_steps): keep the final weights.
            trainer.save_checkpoint(tmp)
    return final


def load_model(ckpt_path, map_location="cpu") -> tuple[TCN, dict]:
    """Rebuild the trained TCN (eval mode) from a checkpoint; return it with its metadata."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        raise DatasetError(f"checkpoint not found: {ckpt_path}")
    try:
        ckpt = torch.load(ckpt_path, map_location=map_location, weights_only=False)
        hp = ckpt["hyper_parameters"]
        arch = hp["architecture"]
    except (KeyError, RuntimeError, EOFError, OSError) as err:
        raise DatasetError(
            f"checkpoint {ckpt_path} is not a neurodepth training checkpoint ({err!r})"
        ) from err
    model = TCN(
        hp["n_inputs"], arch["kernels"], arch["width"], n_dendritic=hp.get("n_dendritic", 0)
    )
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    model.eval()
    best = None
    for key, value in ckpt.get("callbacks", {}).items():
        if key.startswith("SafeCheckpoint") or key.startswith("ModelCheckpoint"):
            score = value.get("best_model_score")
            best = float(score) if score is not None else None
    meta = {
        "architecture": {
            "depth": len(arch["kernels"]),
            "kernels": list(arch["kernels"]),
            "width": int(arch["width"]),
        },
        "n_inputs": int(hp["n_inputs"]),
        "n_parameters": model.n_parameters,
        "receptive_field": model.receptive_field,
        "macs_per_ms": model.macs_per_ms,
        "global_step": int(ckpt.get("global_step", 0)),
        "best_val_spike_auc": best,
        "soma_bias_mv": float(hp.get("soma_bias_mv", -67.7)),
        "seed": hp.get("seed"),
        "data_identity": dict(hp.get("data_identity") or {}),
    }
    return model, meta
