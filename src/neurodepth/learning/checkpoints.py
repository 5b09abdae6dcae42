"""Training checkpoints: the one place that writes and reads them.

A checkpoint is Lightning's: ``state_dict`` (the network's weights under ``model.``), the
optimiser and callback states, ``global_step`` and ``hyper_parameters``. Among those, the network
is described by :data:`NETWORK_KEYS` (``family``, ``n_inputs``, ``architecture``,
``n_dendritic``), which is all :func:`load_model` needs to rebuild it through the family registry.
Checkpoints from before network families existed lack ``family``; they are TCNs.

Writing: :class:`TrainingProgress` during training (``best.ckpt`` and ``last.ckpt``, atomic, never
non-finite weights), :func:`finalise_model` for ``model.ckpt`` at the end, :func:`save_model` for a
network made outside training (test fixtures). Reading: :func:`load_model`, :func:`resume_point`.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import nn

from neurodepth.core.atomic import atomic_path
from neurodepth.core.errors import ConfigError, DatasetError, TrainingDivergedError
from neurodepth.data.reader import SOMA_BIAS_MV
from neurodepth.learning.networks import build_network

NETWORK_KEYS = ("family", "n_inputs", "architecture", "n_dendritic")
LEGACY_FAMILY = "tcn"  # the only network before families existed
PROGRESS_KEY = "TrainingProgress"  # the callback state's key in a checkpoint


def network_hparams(family: str, model: nn.Module) -> dict:
    """What a checkpoint stores to rebuild ``model`` (see :data:`NETWORK_KEYS`)."""
    return {
        "family": str(family),
        "n_inputs": int(model.n_inputs),
        "architecture": dict(model.architecture()),
        "n_dendritic": int(model.n_dendritic),
    }


def save_checkpoint_safely(trainer: pl.Trainer, filepath) -> None:
    """``trainer.save_checkpoint`` written atomically, refusing a state with non-finite weights."""
    module = trainer.lightning_module
    bad = [n for n, p in module.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        raise TrainingDivergedError(
            f"non-finite weights ({bad[0]} and {len(bad) - 1} more) at step "
            f"{trainer.global_step}; not overwriting {filepath}"
        )
    with atomic_path(filepath) as tmp:
        trainer.save_checkpoint(str(tmp))


class TrainingProgress(Callback):
    """Model selection and early stopping in one callback, so their order is fixed.

    At every validation: note the criterion (``monitor``, lower is better); if it beats the best by
    more than ``min_improvement``, write ``best.ckpt``; else count the validation, and after
    ``patience`` of them in a row stop training. Then always write ``last.ckpt``, the state at this
    step, whose callback state (this object's) is current, so a resumed run continues exactly where
    the killed one was (Lightning's ModelCheckpoint(save_last=True) wrote ``last.ckpt`` only when
    the best improved, which made it a copy of ``best.ckpt``).
    """

    def __init__(
        self,
        out_dir,
        patience: int,
        min_improvement: float,
        monitor: str = "val_criterion",
    ):
        self.out_dir = Path(out_dir)
        self.patience = int(patience)
        self.min_improvement = float(min_improvement)
        self.monitor = monitor
        self.best = self.best_se = self.best_step = self.best_auc = self.best_auc_se = None
        self.wait = 0
        self.n_validations = 0
        self.stopped = False
        self.history: list[list] = []  # [step, criterion] per validation
        self.last_saved_step: int | None = None

    @property
    def state_key(self) -> str:
        return PROGRESS_KEY

    _STATE = (
        "best",
        "best_se",
        "best_step",
        "best_auc",
        "best_auc_se",
        "wait",
        "n_validations",
        "stopped",
        "history",
    )

    def state_dict(self) -> dict:
        return {key: getattr(self, key) for key in self._STATE}

    def load_state_dict(self, state_dict: dict) -> None:
        for key in self._STATE:
            setattr(self, key, state_dict.get(key, getattr(self, key)))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics

        def value(name):
            return float(metrics[name]) if name in metrics else float("nan")

        step = int(trainer.global_step)
        criterion = value(self.monitor)
        self.n_validations += 1
        self.history.append([step, criterion])
        if math.isfinite(criterion) and (
            self.best is None or criterion < self.best - self.min_improvement
        ):
            self.best, self.best_se, self.best_step = criterion, value(f"{self.monitor}_se"), step
            self.best_auc, self.best_auc_se = value("val_spike_auc"), value("val_spike_auc_se")
            self.wait = 0
            save_checkpoint_safely(trainer, self.out_dir / "best.ckpt")
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped = True
                trainer.should_stop = True
        self.save_last(trainer)

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        # A scheduler's time limit: SIGTERM, then SIGKILL after a grace period (Slurm's KillWait,
        # 30 s by default). Lightning finishes the batch it is on and raises SIGTERMException at
        # the end of the step; the state there is as complete as at a validation, so last.ckpt
        # takes it and the retry loses none of the steps since the last validation. A SIGTERM
        # during validation stops it half-way (partial metrics, model in eval mode): last.ckpt
        # then stays the previous validation's, from which the retry repeats those steps exactly.
        if (
            isinstance(exception, SIGTERMException)
            and not trainer.validating
            and self.last_saved_step != int(trainer.global_step)
        ):
            self.save_last(trainer)

    def save_last(self, trainer: pl.Trainer) -> None:
        save_checkpoint_safely(trainer, self.out_dir / "last.ckpt")
        self.last_saved_step = int(trainer.global_step)


def finalise_model(out_dir: Path) -> Path:
    """``model.ckpt``: an atomic copy of ``best.ckpt``, or of ``last.ckpt`` if no validation ran."""
    final, best = Path(out_dir) / "model.ckpt", Path(out_dir) / "best.ckpt"
    source = best if best.exists() else Path(out_dir) / "last.ckpt"
    with atomic_path(final) as tmp:
        shutil.copyfile(source, tmp)
    return final


def save_model(path, model: nn.Module, family: str, global_step: int = 0, **hparams) -> Path:
    """A checkpoint :func:`load_model` reads, for a network that was not trained by Lightning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {
        "hyper_parameters": {**hparams, **network_hparams(family, model)},
        "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
        "global_step": int(global_step),
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return path


def _read(path, map_location="cpu") -> dict:
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
        ckpt["hyper_parameters"]["architecture"]
    except (KeyError, TypeError, RuntimeError, EOFError, OSError) as err:
        raise DatasetError(
            f"checkpoint {path} is not a neurodepth training checkpoint ({err!r})"
        ) from err
    return ckpt


def _network(hp: dict) -> dict:
    return {
        "family": hp.get("family", LEGACY_FAMILY),
        "n_inputs": int(hp["n_inputs"]),
        "architecture": dict(hp["architecture"]),
        "n_dendritic": int(hp.get("n_dendritic", 0)),
    }


def resume_point(path: Path) -> tuple[int, dict, dict]:
    """Global step of ``last.ckpt``, the network it holds (see :data:`NETWORK_KEYS`) and the
    :class:`TrainingProgress` state (empty for a checkpoint written before it existed)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        progress = dict(ckpt.get("callbacks", {}).get(PROGRESS_KEY) or {})
        return int(ckpt.get("global_step", 0)), _network(ckpt["hyper_parameters"]), progress
    except Exception as err:  # a torn file cannot happen (atomic writes) but a foreign one can
        raise DatasetError(
            f"cannot read {path} to resume from ({err}); delete it to start afresh"
        ) from err


def check_resumable(path: Path, saved: dict, family: str, model: nn.Module) -> None:
    """Refuse to resume ``model`` from a checkpoint of another network."""
    wanted = network_hparams(family, model)
    if saved != wanted:
        raise ConfigError(
            f"{path} was trained with architecture {saved['family']} {saved['architecture']} "
            f"({saved['n_inputs']} inputs), not {family} {wanted['architecture']} "
            f"({wanted['n_inputs']} inputs); delete it (and best.ckpt) to retrain"
        )


def load_model(ckpt_path, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the trained network (eval mode) from a checkpoint; return it with its metadata."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        raise DatasetError(f"checkpoint not found: {ckpt_path}")
    ckpt = _read(ckpt_path, map_location)
    hp = ckpt["hyper_parameters"]
    net = _network(hp)
    model = build_network(
        net["family"], net["n_inputs"], net["architecture"], n_dendritic=net["n_dendritic"]
    )
    state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    model.eval()
    best = criterion = None
    for key, value in ckpt.get("callbacks", {}).items():
        if key == PROGRESS_KEY:
            best, criterion = value.get("best_auc"), value.get("best")
        elif key.startswith("SafeCheckpoint") or key.startswith("ModelCheckpoint"):
            # checkpoints from before TrainingProgress selected on validation spike AUC
            score = value.get("best_model_score")
            best = float(score) if score is not None else None
    rate = hp.get("train_spike_rate")
    meta = {
        "family": net["family"],
        "architecture": dict(model.architecture()),
        "n_inputs": net["n_inputs"],
        "n_parameters": model.n_parameters,
        "receptive_field": model.receptive_field,
        "macs_per_ms": model.macs_per_ms,
        "global_step": int(ckpt.get("global_step", 0)),
        "best_val_spike_auc": None if best is None else float(best),
        "best_val_criterion": None if criterion is None else float(criterion),
        # output spikes per 1 ms training bin: the constant-rate predictor evaluation compares with
        "train_spike_rate": None if rate is None else float(rate),
        "soma_bias_mv": float(hp.get("soma_bias_mv", SOMA_BIAS_MV)),
        "seed": hp.get("seed"),
        "data_identity": dict(hp.get("data_identity") or {}),
    }
    return model, meta
