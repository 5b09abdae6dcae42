"""One training job: ``train_model(train_path, valid_path, out_dir, architecture, training_cfg,
seed, family)``.

Files in ``out_dir``:
- ``best.ckpt`` (the state with the best validation criterion, see
  ``neurodepth.learning.selection``) and ``last.ckpt`` (the state at the latest validation and at
  the end, for resume); both written to a temporary name and renamed, and never from a state with
  non-finite weights;
- on completion ``model.ckpt`` (the best model; atomic copy of ``best.ckpt``),
  ``training_log.csv`` (one row per logged step; merged over resumed runs) and
  ``training_summary.json`` (selected and stopped step, whether the step cap ended the run, the
  best criterion and its standard error, the validation set's size in output spikes).
Training stops after ``training.patience_validations`` validations without an improvement of more
than ``training.min_improvement``, or at the sum of the phases' steps (the cap).
A rerun finds ``last.ckpt`` and continues from its global step (optimizer, phase, data stream,
best score and patience count restored), which is how a job killed by the scheduler picks up where
it stopped; the resumed run is bit-identical to an uninterrupted one. On SIGTERM (a scheduler's
time limit: Slurm sends it, then SIGKILL after KillWait) the run writes ``last.ckpt`` at the step
it reached and exits with status 143, so the job counts as failed and its retry resumes there.
Checkpoints are written and read by ``neurodepth.learning.checkpoints``.
"""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException

from neurodepth.core.atomic import write_csv_atomic
from neurodepth.core.errors import ConfigError
from neurodepth.data.shards import read_channel_table
from neurodepth.learning.checkpoints import (
    TrainingProgress,
    check_resumable,
    finalise_model,
    resume_point,
)
from neurodepth.learning.datamodule import NeuronDataModule
from neurodepth.learning.lightning_module import NeuronLightningModule
from neurodepth.learning.networks import adapt_to_data, build_network, initial_spike_bias
from neurodepth.learning.selection import (
    CRITERION,
    SUMMARY_FILE,
    training_summary,
    write_json_atomic,
)

log = logging.getLogger(__name__)


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
    dendritic_pca_path=None,
) -> Path:
    """Train one network; return the path of ``model.ckpt`` (best validation criterion).

    ``architecture``: from ``FAMILIES[family].architecture`` (``family`` is the config's
    ``network.family``). ``training_cfg``: the config's whole ``training`` section (the schema
    supplies every default).
    ``threads``: torch intra-op threads on CPU (pass the job's core count; on a busy machine
    more threads than cores makes OpenMP spin and run many times slower).
    ``dendritic_pca_path``: the variant's dendritic PCA (``data.dendritic_pca``), when it trains
    the auxiliary dendritic target: the network gets a dendritic head of that many components.
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

    start_step, saved, progress_state = resume_point(last) if last.exists() else (0, None, {})
    pl.seed_everything(int(seed), workers=True)
    dm = NeuronDataModule(
        train_path,
        valid_path,
        training_cfg,
        seed=int(seed),
        start_step=start_step,
        dendritic_pca_path=dendritic_pca_path,
    )
    # The data set's width sets the network's inputs, so the files are opened before it is built;
    # neither step draws from torch's generator, so the weights depend on the seed alone.
    dm.setup("fit")
    valid = dm.valid_set
    if valid.exhausted:
        log.warning(
            "%s: the whole validation split (%d simulations) holds %d output spikes, fewer than "
            "training.validation_min_spikes = %d; the selection criterion is noisier than asked "
            "(more validation simulations: simulation.shards.valid)",
            valid_path,
            len(valid),
            valid.n_spikes,
            valid.min_spikes,
        )
    log.info(
        "validation: %d simulations, %d output spikes after %d ms",
        len(valid),
        valid.n_spikes,
        valid.scored_from,
    )
    architecture = adapt_to_data(family, architecture, read_channel_table(train_path))
    model = build_network(
        family,
        dm.n_inputs,
        architecture,
        n_dendritic=dm.n_dendritic,
        init_std=training_cfg["init_std"],
    )
    spike_bias = initial_spike_bias(training_cfg["spike_bias_init"], dm.train_spike_rate)
    if hasattr(model, "set_spike_bias"):
        model.set_spike_bias(spike_bias)
    else:
        log.warning("%s networks have no set_spike_bias: training.spike_bias_init ignored", family)
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
        val_scored_from=valid.scored_from,
        selection_soma_weight=training_cfg["selection_soma_weight"],
        train_spike_rate=dm.train_spike_rate,
    )

    accelerator, precision = _precision_and_accelerator(training_cfg)
    progress = TrainingProgress(
        out_dir,
        patience=training_cfg["patience_validations"],
        min_improvement=training_cfg["min_improvement"],
        monitor=CRITERION,
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
        callbacks=[progress],
        # TrainingProgress writes every checkpoint; Lightning's default one would add another.
        enable_checkpointing=False,
        logger=logger,
        log_every_n_steps=min(int(training_cfg["log_every_n_steps"]), val_every),
        enable_progress_bar=bool(training_cfg["progress_bar"]),
        enable_model_summary=False,
        default_root_dir=out_dir,
    )
    stopped_before = bool(progress_state.get("stopped"))
    if stopped_before:
        # A job killed between early stopping and finalising: the plateau was already found.
        progress.load_state_dict(progress_state)
        log.info("%s stopped early at step %d before; finalising", out_dir, start_step)
        if log_root.exists():
            _tidy_log(log_root, out_dir / "training_log.csv")
    else:
        try:
            trainer.fit(module, datamodule=dm, ckpt_path=str(last) if last.exists() else None)
        except SIGTERMException:
            # Lightning's SIGTERMException is a SystemExit with status 0, which would pass for
            # success; exit as a process killed by SIGTERM does (128 + 15), so the scheduler and
            # Snakemake see a failed job and a retry resumes from last.ckpt.
            log.warning(
                "%s: SIGTERM at step %d (a scheduler's time limit?); last.ckpt holds step %s, "
                "a rerun resumes from it",
                out_dir,
                trainer.global_step,
                progress.last_saved_step,
            )
            raise SystemExit(128 + signal.SIGTERM) from None
        finally:
            if log_root.exists():
                _tidy_log(log_root, out_dir / "training_log.csv")
        if progress.last_saved_step != trainer.global_step:
            # The run ended between validations: last.ckpt must still be the final state.
            progress.save_last(trainer)
    stopped_step = start_step if stopped_before else int(trainer.global_step)
    if max_steps is not None and max_steps < total_steps and not progress.stopped:
        return out_dir / "model.ckpt"
    if not (out_dir / "training_log.csv").exists():
        write_csv_atomic(pd.DataFrame(columns=["step"]), out_dir / "training_log.csv")
    summary = training_summary(
        progress.state_dict(),
        max_steps=total_steps,
        stopped_step=stopped_step,
        patience_validations=int(training_cfg["patience_validations"]),
        min_improvement=float(training_cfg["min_improvement"]),
        val_every_steps=val_every,
        validation_simulations=len(valid),
        validation_output_spikes=valid.n_spikes,
        validation_min_spikes=valid.min_spikes,
        validation_exhausted=bool(valid.exhausted),
        validation_scored_from_ms=valid.scored_from,
        train_spike_rate_per_ms=dm.train_spike_rate,
        family=family,
        architecture=dict(model.architecture()),
        seed=int(seed),
    )
    final = finalise_model(out_dir)
    write_json_atomic(summary, out_dir / SUMMARY_FILE)
    if summary["capped"]:
        log.warning(
            "%s: still improving at the step cap (%d steps); a longer run may do better",
            out_dir,
            total_steps,
        )
    return final
