"""An Expressive-Leaky-Memory-style network (after Spieler et al., ICLR 2024), an ``nn.Module``.

Written from the paper's description, in this project's form. Per millisecond ``t``:

- each input channel has a learned weight; channels are summed per group (``channel_group``):
  with grouping ``branch`` the group is the dendritic section of the channel's synapse and the
  synapse kind (excitatory and inhibitory inputs of a branch stay apart), as the paper's
  "Branch-ELM" reduces a neuron's synapses to its branches; with ``channel`` each channel is its
  own group;
- each group's drive passes a synaptic trace ``s_t = exp(-1/tau_s) s_{t-1} + drive_t``;
- ``memory_units`` leaky memories ``m_t = lam * m_{t-1} + (1 - lam) * dm_t`` with learned time
  constants ``tau`` bounded to ``[tau_min_ms, tau_max_ms]`` (``lam = exp(-1 ms / tau)``), where
  ``dm_t = W2 relu(Ws s_t + Wm m_{t-1} + b1) + b2`` is a one-hidden-layer MLP of ``mlp_hidden``
  units;
- linear heads read the spike logit, the soma voltage (and dendritic components) from ``m_t``.

The memory recurrence runs as a loop over time (five fused ops per ms); the synaptic trace (a
causal exponential convolution) and the input's part of the MLP's first layer (``Ws s_t``) are
computed for the whole window at once. Causal by construction. The size index of
the sweep is the number of memory units. Registered as the network family ``elm``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neurodepth.core.errors import ConfigError
from neurodepth.learning.networks.family import (
    FAMILIES,
    SPIKE_BIAS_INIT,
    NetworkFamily,
    RecurrentNetwork,
    family_options,
)

#: The family's options (config ``families.elm.options``) and their defaults.
OPTIONS = {
    # the paper's MLP is about twice as wide as the memory
    "mlp_hidden_per_unit": 2,
    # memory time constants between 1 ms and the few hundred ms of an NMDA plateau's effect
    "tau_min_ms": 1.0,
    "tau_max_ms": 150.0,
    # AMPA-like synaptic trace
    "synapse_tau_ms": 5.0,
    "grouping": "branch",
    # evaluation windows give every scored output this much preceding input (2 x tau_max: the
    # slowest memory keeps e^-2 of older input); training windows are window_ms long
    "context_ms": 300,
}
GROUPINGS = ("branch", "channel")


class ELM(RecurrentNetwork):
    """Leaky-memory network; ``forward(x)`` as every family's (``neurodepth.learning.networks``)."""

    def __init__(
        self,
        n_inputs: int,
        memory_units: int,
        mlp_hidden: int,
        channel_group: list[int] | None = None,
        tau_min_ms: float = OPTIONS["tau_min_ms"],
        tau_max_ms: float = OPTIONS["tau_max_ms"],
        synapse_tau_ms: float = OPTIONS["synapse_tau_ms"],
        context_ms: int = OPTIONS["context_ms"],
        n_dendritic: int = 0,
    ):
        super().__init__()
        if n_inputs < 1 or memory_units < 1 or mlp_hidden < 1:
            raise ConfigError(
                f"ELM needs n_inputs, memory_units and mlp_hidden >= 1, got {n_inputs}, "
                f"{memory_units}, {mlp_hidden}"
            )
        if not 0 < tau_min_ms < tau_max_ms:
            raise ConfigError(
                f"ELM needs 0 < tau_min_ms < tau_max_ms, got {tau_min_ms}, {tau_max_ms}"
            )
        groups = np.arange(n_inputs) if channel_group is None else np.asarray(channel_group, int)
        if groups.shape != (n_inputs,) or groups.min() < 0:
            raise ConfigError(
                f"ELM channel_group must give a group >= 0 for each of the {n_inputs} inputs"
            )
        self.n_inputs = int(n_inputs)
        self.memory_units = int(memory_units)
        self.mlp_hidden = int(mlp_hidden)
        self.channel_group = None if channel_group is None else [int(g) for g in groups]
        self.n_groups = int(groups.max()) + 1
        self.tau_min_ms, self.tau_max_ms = float(tau_min_ms), float(tau_max_ms)
        self.synapse_tau_ms = float(synapse_tau_ms)
        self.context_ms = int(context_ms)
        self.n_dendritic = int(n_dendritic)

        self.register_buffer(
            "group_index", torch.as_tensor(groups, dtype=torch.long), persistent=False
        )
        self.register_buffer(
            "channel_group_size",
            torch.as_tensor(np.bincount(groups)[groups], dtype=torch.float32),
            persistent=False,
        )
        self.synapse_weight = nn.Parameter(torch.ones(self.n_inputs))
        # tau = tau_min + (tau_max - tau_min) sigmoid(tau_logit): learned, never out of bounds
        self.tau_logit = nn.Parameter(torch.zeros(self.memory_units))
        self.from_synapses = nn.Linear(self.n_groups, self.mlp_hidden)
        self.from_memory = nn.Linear(self.memory_units, self.mlp_hidden, bias=False)
        self.to_memory = nn.Linear(self.mlp_hidden, self.memory_units)
        self.heads = nn.Linear(self.memory_units, 2 + self.n_dendritic)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Time constants spread log-uniformly over the allowed range, so that memories start at
        # every timescale from a millisecond to the NMDA range.
        with torch.no_grad():
            tau = torch.logspace(
                math.log10(self.tau_min_ms * 1.01),
                math.log10(self.tau_max_ms * 0.99),
                self.memory_units,
            )
            fraction = (tau - self.tau_min_ms) / (self.tau_max_ms - self.tau_min_ms)
            self.tau_logit.copy_(torch.logit(fraction))
            # group sizes differ by orders of magnitude (a soma group vs a long branch): scale
            # each channel so that a group's drive does not grow with its size
            self.synapse_weight.copy_(self.channel_group_size.rsqrt())
            self.heads.bias.zero_()
            self.heads.bias[0] = SPIKE_BIAS_INIT

    def time_constants_ms(self) -> torch.Tensor:
        return self.tau_min_ms + (self.tau_max_ms - self.tau_min_ms) * torch.sigmoid(self.tau_logit)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, _, n_time = x.shape
        weighted = (x * self.synapse_weight[:, None]).transpose(1, 2)  # (batch, time, channel)
        if self.channel_group is None:
            drive = weighted
        else:
            # a segment sum, O(channels) per ms: a dense channel x group matmul costs ~100x more
            drive = weighted.new_zeros(batch, n_time, self.n_groups).index_add_(
                2, self.group_index, weighted
            )
        trace = self._synaptic_trace(drive)
        # the input's share of the MLP's first layer, for the whole window in one matmul
        from_input = self.from_synapses(trace).transpose(0, 1)  # (time, batch, hidden)
        keep = torch.exp(-1.0 / self.time_constants_ms())
        w_memory, w_out = self.from_memory.weight.t(), self.to_memory.weight.t()
        b_out = self.to_memory.bias
        m = x.new_zeros(batch, self.memory_units)
        memory = []
        for drive_t in from_input.unbind(0):
            update = torch.tanh(
                torch.addmm(b_out, F.relu(torch.addmm(drive_t, m, w_memory)), w_out)
            )
            m = torch.lerp(update, m, keep)  # keep * m + (1 - keep) * update, one op
            memory.append(m)
        out = self.heads(torch.stack(memory, 1)).transpose(1, 2)  # (batch, heads, time)
        return self.read_heads(out)

    def _synaptic_trace(self, drive: torch.Tensor) -> torch.Tensor:
        """``s_t = exp(-1/tau_s) s_{t-1} + drive_t`` over (batch, time, group), as a causal
        convolution with the exponential kernel cut where it falls below e^-8 (no time loop)."""
        batch, n_time, n_groups = drive.shape
        length = min(n_time, int(math.ceil(8 * self.synapse_tau_ms)) + 1)
        kernel = torch.exp(
            -torch.arange(length - 1, -1, -1, dtype=drive.dtype, device=drive.device)
            / self.synapse_tau_ms
        )
        flat = drive.transpose(1, 2).reshape(batch * n_groups, 1, n_time)
        trace = F.conv1d(F.pad(flat, (length - 1, 0)), kernel.view(1, 1, -1))
        return trace.view(batch, n_groups, n_time).transpose(1, 2)

    @property
    def macs_per_ms(self) -> int:
        """Multiply-accumulates per output ms: synapse weights, trace, MLP, memory and heads."""
        m, h, g = self.memory_units, self.mlp_hidden, self.n_groups
        return int(self.n_inputs + g + g * h + m * h + h * m + 2 * m + m * (2 + self.n_dendritic))

    def architecture(self) -> dict:
        arch = {
            "depth": self.memory_units,
            "memory_units": self.memory_units,
            "mlp_hidden": self.mlp_hidden,
            "tau_min_ms": self.tau_min_ms,
            "tau_max_ms": self.tau_max_ms,
            "synapse_tau_ms": self.synapse_tau_ms,
            "context_ms": self.context_ms,
        }
        if self.channel_group is not None:
            arch["channel_group"] = list(self.channel_group)
        return arch


def architecture_for_size(size: int, options: dict) -> dict:
    """The ELM of ``size`` memory units; ``options``: the config's ``families.elm.options`` (or
    the ``network`` section when ELM is the depth sweep's family)."""
    opts = family_options(OPTIONS, options)
    if opts["grouping"] not in GROUPINGS:
        raise ConfigError(
            f"config key 'families.elm.options.grouping': {opts['grouping']!r} is not one of "
            f"{GROUPINGS}"
        )
    arch = {
        "depth": int(size),
        "memory_units": int(size),
        "mlp_hidden": int(opts["mlp_hidden_per_unit"] * size),
        "tau_min_ms": float(opts["tau_min_ms"]),
        "tau_max_ms": float(opts["tau_max_ms"]),
        "synapse_tau_ms": float(opts["synapse_tau_ms"]),
        "context_ms": int(opts["context_ms"]),
    }
    if opts["grouping"] == "branch":
        arch["grouping"] = "branch"  # replaced by the channels' groups once the data are known
    return arch


def branch_groups(channel_segment, segment_section, channel_kind) -> list[int]:
    """Group index per channel: one group per (dendritic section, synapse kind), numbered in
    order of first appearance. Channels without a segment (-1) form one group per kind."""
    keys = []
    for segment, kind in zip(channel_segment, channel_kind, strict=True):
        section = segment_section[segment] if segment >= 0 else "<none>"
        keys.append((str(section), str(kind)))
    index: dict[tuple[str, str], int] = {}
    return [index.setdefault(key, len(index)) for key in keys]


def adapt_to_data(architecture: dict, channels) -> dict:
    """Resolve ``grouping: branch`` into ``channel_group`` from the training data's channels."""
    arch = dict(architecture)
    if arch.pop("grouping", None) == "branch":
        arch["channel_group"] = branch_groups(
            channels["channel_segment"], channels["segment_section"], channels["channel_kind"]
        )
    return arch


def build(n_inputs: int, architecture: dict, n_dendritic: int = 0, init_std=None) -> ELM:
    arch = {k: v for k, v in architecture.items() if k not in ("depth", "grouping")}
    return ELM(n_inputs, n_dendritic=n_dendritic, **arch)


FAMILIES.register(
    "elm",
    NetworkFamily(
        architecture=architecture_for_size,
        build=build,
        adapt_to_data=adapt_to_data,
        size_label="memory units",
        options=OPTIONS,
    ),
)
