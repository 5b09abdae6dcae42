"""Training checkpoints: the one place that writes and reads them.

A checkpoint is Lightning's: ``state_dict`` (the network's weights under ``model.``), the
optimiser and callback states, ``global_step`` and ``hyper_parameters``. Among those, the network
is described by :data:`NETWORK_KEYS` (``family``, ``n_inputs``, ``architecture``,
``n_dendritic``), which is all :func:`load_model` needs to rebuild it through the family registry.
Checkpoints from before network families existed lack ``family``; they are TCNs.

Writing: :class:`SafeCheckpoint` during training (atomic, never non-finite weights),
:func:`finalise_model` for ``model.ckpt`` at the end, :func:`save_model` for a network made outside
training (test fixtures). Reading: :func:`load_model`, :func:`resume_point`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn

from neurodepth.core.atomic import atomic_path
from neurodepth.core.errors import ConfigError, DatasetError, TrainingDivergedError
from neurodepth.data.reader import SOMA_BIAS_MV
from neurodepth.learning.networks import build_network

NETWORK_KEYS = ("family", "n_inputs", "architecture", "n_dendritic")
LEGACY_FAMILY = "tcn"  # the only network before families existed


def network_hparams(family: str, model: nn.Module) -> dict:
    """What a checkpoint stores to rebuild ``model`` (see :data:`NETWORK_KEYS`)."""
    return {
        "family": str(family),
        "n_inputs": int(model.n_inputs),
        "architecture": dict(model.architecture()),
        "n_dendritic": int(model.n_dendritic),
    }


class SafeCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that writes atomically and refuses to save non-finite weights."""

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        module = trainer.lightning_module
        bad = [n for n, p in module.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingDivergedError(
                f"non-finite weights ({bad[0]} and {len(bad) - 1} more) at step "
                f"{trainer.global_step}; not overwriting {filepath}"
            )
        with atomic_path(filepath) as tmp:
            super()._save_checkpoint(trainer, str(tmp))
        self._last_checkpoint_saved = filepath


def finalise_model(out_dir: Path, trainer: pl.Trainer) -> Path:
    """``model.ckpt``: an atomic copy of ``best.ckpt``, or the final weights if none was kept."""
    final, best = Path(out_dir) / "model.ckpt", Path(out_dir) / "best.ckpt"
    with atomic_path(final) as tmp:
        if best.exists():
            shutil.copyfile(best, tmp)
        else:
            # No validation ran (fewer steps than val_every_steps): keep the final weights.
            trainer.save_checkpoint(tmp)
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


def resume_point(path: Path) -> tuple[int, dict]:
    """Global step of ``last.ckpt`` and the network it holds (see :data:`NETWORK_KEYS`)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        return int(ckpt.get("global_step", 0)), _network(ckpt["hyper_parameters"])
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
    best = None
    for key, value in ckpt.get("callbacks", {}).items():
        if key.startswith("SafeCheckpoint") or key.startswith("ModelCheckpoint"):
            score = value.get("best_model_score")
            best = float(score) if score is not None else None
    meta = {
        "family": net["family"],
        "architecture": dict(model.architecture()),
        "n_inputs": net["n_inputs"],
        "n_parameters": model.n_parameters,
        "receptive_field": model.receptive_field,
        "macs_per_ms": model.macs_per_ms,
        "global_step": int(ckpt.get("global_step", 0)),
        "best_val_spike_auc": best,
        "soma_bias_mv": float(hp.get("soma_bias_mv", SOMA_BIAS_MV)),
        "seed": hp.get("seed"),
        "data_identity": dict(hp.get("data_identity") or {}),
    }
    return model, meta
