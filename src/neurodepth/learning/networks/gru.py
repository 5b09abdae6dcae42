"""A recurrent baseline family: one GRU layer over the synaptic inputs, linear heads.

The GRU reads every input channel at every millisecond (``hidden_units`` = the sweep's size) and
the spike logit, soma voltage (and dendritic components) are read linearly from its state.
Causal by construction. As for the ELM, ``context_ms`` is the preceding input evaluation windows
give each scored output (training windows are ``training.window_ms`` long, so a state carried over
longer than that was never trained). Registered as the network family ``gru``.
"""

from __future__ import annotations

import torch
from torch import nn

from neurodepth.core.errors import ConfigError
from neurodepth.learning.networks.family import (
    FAMILIES,
    SPIKE_BIAS_INIT,
    NetworkFamily,
    RecurrentNetwork,
    family_options,
)

#: The family's options (config ``families.gru.options``) and their defaults.
OPTIONS = {"context_ms": 300}
# a GRU layer: reset, update and candidate gates, each an input and a recurrent matrix
GATES = 3


class GRUNetwork(RecurrentNetwork):
    """``forward(x)`` as every family (see ``neurodepth.learning.networks``)."""

    def __init__(
        self,
        n_inputs: int,
        hidden_units: int,
        context_ms: int = OPTIONS["context_ms"],
        n_dendritic: int = 0,
    ):
        super().__init__()
        if n_inputs < 1 or hidden_units < 1:
            raise ConfigError(
                f"GRU needs n_inputs and hidden_units >= 1, got {n_inputs}, {hidden_units}"
            )
        self.n_inputs = int(n_inputs)
        self.hidden_units = int(hidden_units)
        self.context_ms = int(context_ms)
        self.n_dendritic = int(n_dendritic)
        self.gru = nn.GRU(self.n_inputs, self.hidden_units, batch_first=True)
        self.heads = nn.Linear(self.hidden_units, 2 + self.n_dendritic)
        with torch.no_grad():
            self.heads.bias.zero_()
            self.heads.bias[0] = SPIKE_BIAS_INIT

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        state, _ = self.gru(x.transpose(1, 2))
        out = self.heads(state).transpose(1, 2)
        return self.read_heads(out)

    @property
    def macs_per_ms(self) -> int:
        """Multiply-accumulates per output ms: the gates' input and recurrent matrices, heads."""
        h = self.hidden_units
        return int(GATES * (self.n_inputs * h + h * h) + h * (2 + self.n_dendritic))

    def architecture(self) -> dict:
        return {
            "depth": self.hidden_units,
            "hidden_units": self.hidden_units,
            "context_ms": self.context_ms,
        }


def architecture_for_size(size: int, options: dict) -> dict:
    """The GRU of ``size`` hidden units; ``options``: the config's ``families.gru.options``."""
    opts = family_options(OPTIONS, options)
    return {"depth": int(size), "hidden_units": int(size), "context_ms": int(opts["context_ms"])}


def build(n_inputs: int, architecture: dict, n_dendritic: int = 0, init_std=None) -> GRUNetwork:
    return GRUNetwork(
        n_inputs, architecture["hidden_units"], architecture["context_ms"], n_dendritic
    )


FAMILIES.register(
    "gru",
    NetworkFamily(
        architecture=architecture_for_size, build=build, size_label="hidden units", options=OPTIONS
    ),
)
