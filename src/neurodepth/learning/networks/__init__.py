"""Network families: the registry of the kinds of network the sweep can train.

A family turns the sweep's size index (today the depth, ``network.depths``) and the config's
``network`` section into an architecture dict, and builds a plain ``nn.Module`` from
``(n_inputs, architecture, n_dendritic)``. The LightningModule is given that module; it holds only
the losses and the optimisation. The config key ``network.family`` names the family; a user adds one
with ``FAMILIES.register(name, NetworkFamily(...))`` in a plugin module (config key ``plugins``).

Every family's module must:

- take ``(batch, n_inputs, time)`` and return ``{"spike_logit": (batch, time), "soma": (batch,
  time)}`` plus ``"dendritic": (batch, n_dendritic, time)`` when ``n_dendritic > 0``;
- be causal (the output at ``t`` sees inputs at ``<= t`` only; evaluation relies on it);
- expose ``n_inputs``, ``n_dendritic``, ``n_parameters``, ``receptive_field`` (ms of input one
  output sees; evaluation windows and validation scoring use it), ``macs_per_ms`` (forward
  multiply-accumulates per output ms; cost estimates use it) and ``architecture()`` (the dict it
  was built from, so a checkpoint can rebuild it).

:func:`network_size` reads those numbers from a module built on PyTorch's ``meta`` device (no
memory, no weights), so cost estimates use each family's own code rather than a copy of its
formulas. The TCN of the paper is the first entry; an ELM-style leaky-memory network (``elm``)
and a GRU (``gru``) are compared beside it (config key ``families``).
"""

# Built-in families register on import; the TCN first (the default of network.family).
# isort: off
from neurodepth.learning.networks import tcn  # noqa: F401
from neurodepth.learning.networks import elm  # noqa: F401
from neurodepth.learning.networks import gru  # noqa: F401

# isort: on
from neurodepth.learning.networks.family import (
    FAMILIES,
    NetworkFamily,
    NetworkSize,
    adapt_to_data,
    build_network,
    candidate_architectures,
    initial_spike_bias,
    network_size,
)

__all__ = [
    "FAMILIES",
    "NetworkFamily",
    "NetworkSize",
    "adapt_to_data",
    "build_network",
    "candidate_architectures",
    "initial_spike_bias",
    "network_size",
]
