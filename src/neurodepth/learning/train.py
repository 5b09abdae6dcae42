"""One training job: ``train_model(train_path, valid_path, out_dir, architecture, training_cfg,
seed, family)``.

Files in ``out_dir``:
- ``best.ckpt`` (working copy of the best-by-``val_spike_auc`` model) and ``last.ckpt`` (every
  validation, for resume); both written to a temporary name and renamed, and never from a state with
  non-finite weights;
- on completion ``model.ckpt`` (the best model; atomic copy of ``best.ckpt``) and
  ``training_log.csv`` (one row per logged step; merged over resumed runs).
A rerun finds ``last.ckpt`` and continues from its global step (optimizer, phase and best score
restored), which is how a job killed by the scheduler picks up where it stopped.
Checkpoints are written and read by ``neurodepth.learning.checkpoints``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger

from neurodepth.core.atomic import write_csv_atomic
from neurodepth.core.errors import ConfigError
from neurodepth.learning.checkpoints import (
    SafeCheckpoint,
    check_resumable,
    finalise_model,
    resume_point,
)
from neurodepth.learning.datamodule import NeuronDataModule
from neurodepth.learning.lightning_module import NeuronLightningModule
from neurodepth.learning.networks import build_network

log = logging.getLogger(__name__)

MONITOR = "val_spike_auc"


def _precision_and_accelerator(training_cfg: dict) -> tuple[str, str]:
    accel = training_cfg["accelerator"]
    if accel == "gpu" and not torch.cuda.is_available():
        raise ConfigError("training.accelerator is 'gpu' but no CUDA device is available")
    if accel != "cpu" and torch.cuda.is_available():
        return "gpu", "bf16-mixed"
    return "cpu", "32-true"


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
    family: str = "tcn",
    max_steps: int | None = None,
    threads: int | None = None,
) -> Path:
    """Train one network; return the path of ``model.ckpt`` (best validation spike AUC).

    ``architecture``: from ``FAMILIES[family].architecture`` (``family`` is the config's
    ``network.family``). ``training_cfg``: the config's whole ``training`` section (the schema
    supplies every default).
    ``threads``: torch intra-op threads on CPU (pass the job's core count; on a busy machine
    more threads than cores makes OpenMP spin and run many times slower).
    ``max_steps`` (tests only) stops earlier than the sum of the phase steps, without finalising
    ``model.ckpt``; the run can then be resumed.
    """
    if threads:
        torch.set_num_threads(int(threads))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    phases = training_cfg["phases"]
    total_steps = sum(p["steps"] for p in phases)
    val_every = int(training_cfg["val_every_steps"])
    last = out_dir / "last.ckpt"

    start_step, saved = resume_point(last) if last.exists() else (0, None)
    pl.seed_everything(int(seed), workers=True)
    dm = NeuronDataModule(
        train_path, valid_path, training_cfg, seed=int(seed), start_step=start_step
    )
    # The data set's width sets the network's inputs, so the files are opened before it is built;
    # neither step draws from torch's generator, so the weights depend on the seed alone.
    dm.setup("fit")
    model = build_network(family, dm.n_inputs, architecture, init_std=training_cfg["init_std"])
    if saved is not None:
        check_resumable(last, saved, family, model)
        log.info("resuming %s from %s at step %d", out_dir, last, start_step)
    module = NeuronLightningModule(
        model,
        phases,
        family=family,
        l2=training_cfg["l2"],
        divergence_loss=training_cfg["divergence_loss"],
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
        log_every_n_steps=min(int(training_cfg["log_every_n_steps"]), val_every),
        enable_progress_bar=bool(training_cfg["progress_bar"]),
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
    return finalise_model(out_dir, trainer)
