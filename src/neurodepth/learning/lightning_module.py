"""LightningModule: the paper's losses, phase schedule, optimiser and validation metrics.

The network is built outside (``neurodepth.learning.networks``) and given to the module.

Loss = spike_weight * BCE(spike logit, spike bins) + soma_weight * MSE(soma, soma target)
       [+ dendritic_weight * MSE(dendritic PCA)] + l2 * sum of squared conv weights.
The phase schedule (``training.phases``: steps, lr, spike_weight, soma_weight per phase) is applied
by global step, so a resumed run picks up the right phase. Optimiser: NAdam.
Validation scores whole validation simulations from ``val_scored_from`` ms on (the same bins for
every network) and logs the selection criterion ``val_criterion`` = spike BCE per bin +
``selection_soma_weight`` x soma MSE, with its standard error over simulations (``_se``), and
``val_spike_bce``, ``val_soma_mse``, ``val_spike_auc`` (+ Hanley-McNeil SE), ``val_soma_rmse_mv``.
The criterion does not depend on the phase's loss weights, so validations of different phases
compare; why BCE rather than AUC: see ``neurodepth.learning.selection``.
"""

from __future__ import annotations

import math

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from neurodepth.analysis.metrics import roc_auc
from neurodepth.core.errors import TrainingDivergedError
from neurodepth.data.reader import SOMA_BIAS_MV
from neurodepth.learning.checkpoints import network_hparams
from neurodepth.learning.selection import hanley_mcneil_se, mean_and_se


class NeuronLightningModule(pl.LightningModule):
    """Trains the network it is given (any family of ``neurodepth.learning.networks``).

    ``phases``: the config's ``training.phases`` (validated by the schema). ``family``: the
    network's registry name, stored with ``n_inputs``, ``architecture`` and ``n_dendritic`` so that
    ``checkpoints.load_model`` can rebuild the network. ``soma_bias_mv``, ``seed`` and the training
    data's identity (cell, variant, config hash) are stored for evaluation, integrity checks and
    provenance.
    """

    def __init__(
        self,
        model: nn.Module,
        phases: list[dict],
        *,
        family: str,
        l2: float,
        divergence_loss: float,
        soma_bias_mv: float = SOMA_BIAS_MV,
        seed: int | None = None,
        data_identity: dict | None = None,
        val_scored_from: int = 0,
        selection_soma_weight: float = 0.0,
        train_spike_rate: float | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["model"])
        self.hparams.update(network_hparams(family, model))
        self.model = model
        self.phases = [dict(p) for p in phases]
        self._phase_ends = np.cumsum([p["steps"] for p in self.phases])
        self.l2 = float(l2)
        self.divergence_loss = float(divergence_loss)
        self.val_scored_from = int(val_scored_from)
        self.selection_soma_weight = float(selection_soma_weight)
        self._val_outputs = []

    # ---- schedule ------------------------------------------------------------------------------
    def phase_at(self, step: int) -> dict:
        idx = int(np.searchsorted(self._phase_ends, step, side="right"))
        return self.phases[min(idx, len(self.phases) - 1)]

    def forward(self, x):
        return self.model(x)

    def _losses(self, batch, phase: dict):
        out = self.model(batch["inputs"].float())  # uint8 0/1 from the data module
        spike_loss = F.binary_cross_entropy_with_logits(out["spike_logit"].float(), batch["spike"])
        soma_loss = F.mse_loss(out["soma"].float(), batch["soma"])
        loss = phase["spike_weight"] * spike_loss + phase["soma_weight"] * soma_loss
        parts = {"spike_bce": spike_loss, "soma_mse": soma_loss}
        if "dendritic" in out and "dendritic" in batch:
            dend_loss = F.mse_loss(out["dendritic"].float(), batch["dendritic"])
            loss = loss + phase["dendritic_weight"] * dend_loss
            parts["dendritic_mse"] = dend_loss
        return out, loss, parts

    def _l2(self):
        # Keras-style kernel regulariser (the authors' L2 1e-8), on conv weights only.
        return sum(
            (m.weight.float() ** 2).sum() for m in self.model.modules() if isinstance(m, nn.Conv1d)
        )

    def on_train_batch_start(self, batch, batch_idx):
        lr = self.phase_at(self.global_step)["lr"]
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                group["lr"] = lr

    def training_step(self, batch, batch_idx):
        phase = self.phase_at(self.global_step)
        _, loss, parts = self._losses(batch, phase)
        loss = loss + self.l2 * self._l2()
        value = float(loss.detach())
        if not math.isfinite(value) or value > self.divergence_loss:
            # Raised before backward: the weights (and any saved checkpoint) stay the last good.
            raise TrainingDivergedError(
                f"training loss {value} at step {self.global_step} is not finite or exceeds "
                f"{self.divergence_loss:g}; last good checkpoint kept"
            )
        # Log only on the steps the logger writes: self.log costs ~1 ms per call, which is
        # measurable against a few-ms GPU step.
        if (self.global_step + 1) % max(1, self.trainer.log_every_n_steps) == 0:
            bs = batch["inputs"].shape[0]
            self.log("train_loss", value, prog_bar=True, batch_size=bs)
            self.log("train_spike_bce", float(parts["spike_bce"].detach()), batch_size=bs)
            self.log("train_soma_mse", float(parts["soma_mse"].detach()), batch_size=bs)
            if "dendritic_mse" in parts:
                self.log(
                    "train_dendritic_mse", float(parts["dendritic_mse"].detach()), batch_size=bs
                )
            self.log("lr", phase["lr"], batch_size=bs)
        return loss

    # ---- validation ----------------------------------------------------------------------------
    def on_validation_epoch_start(self):
        self._val_outputs = []

    def validation_step(self, batch, batch_idx):
        out = self.model(batch["inputs"].float())
        # Whole simulations: bins from val_scored_from on (and with a full receptive field).
        first = min(
            max(self.val_scored_from, self.model.receptive_field - 1), batch["spike"].shape[1] - 1
        )
        logit = out["spike_logit"].float()[:, first:]
        spike = batch["spike"][:, first:]
        soma_err = (out["soma"].float()[:, first:] - batch["soma"][:, first:]) ** 2
        bce = F.binary_cross_entropy_with_logits(logit, spike, reduction="none").mean(1)
        self._val_outputs.append(
            (
                torch.sigmoid(logit).cpu().numpy(),
                spike.cpu().numpy(),
                bce.cpu().numpy(),
                soma_err.mean(1).cpu().numpy(),
            )
        )

    def on_validation_epoch_end(self):
        if not self._val_outputs:
            return
        prob, spike = (np.concatenate([o[i].ravel() for o in self._val_outputs]) for i in (0, 1))
        bce, soma_mse = (np.concatenate([o[i] for o in self._val_outputs]) for i in (2, 3))
        self._val_outputs = []
        n_spikes = int(spike.sum())
        if spike.min() == spike.max() or not np.all(np.isfinite(prob)):
            auc = 0.5 if np.all(np.isfinite(prob)) else 0.0  # undefined (one class) or broken model
        else:
            auc = roc_auc(spike, prob)
        # Simulations are independent, so the SE of a mean over them is honest; bins are not.
        criterion = bce + self.selection_soma_weight * soma_mse
        values = {
            "val_criterion": mean_and_se(criterion),
            "val_spike_bce": mean_and_se(bce),
            "val_soma_mse": mean_and_se(soma_mse),
        }
        for name, (mean, se) in values.items():
            self.log(name, mean, prog_bar=name == "val_criterion")
            self.log(f"{name}_se", se)
        self.log("val_spike_auc", auc, prog_bar=True)
        self.log("val_spike_auc_se", hanley_mcneil_se(auc, n_spikes, spike.size - n_spikes))
        self.log("val_soma_rmse_mv", float(np.sqrt(values["val_soma_mse"][0])), prog_bar=True)
        self.log("val_output_spikes", float(n_spikes))

    def configure_optimizers(self):
        return torch.optim.NAdam(self.model.parameters(), lr=self.phases[0]["lr"])
