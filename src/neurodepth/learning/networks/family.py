"""The network-family registry, its entry type and size queries (see the package docstring)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import torch
from torch import nn

from neurodepth.core.registry import Registry

# paper: the spike head's bias starts at -2 (sigmoid ~ 0.12) to speed early training; every
# family builds its spike head there, and training then sets it as training.spike_bias_init says
# (set_spike_bias)
SPIKE_BIAS_INIT = -2.0


def initial_spike_bias(setting, train_spike_rate_per_ms: float) -> float:
    """The spike head's starting bias for ``training.spike_bias_init``: a number as given, or
    ``"training_rate"``: the logit of the training set's output spikes per 1-ms bin, so that an
    untrained network predicts the constant-rate predictor (its held-out BCE ratio starts at ~1
    instead of ~25 at -2, and early stopping no longer selects a network still relaxing there)."""
    if setting != "training_rate":
        return float(setting)
    rate = min(max(float(train_spike_rate_per_ms), 1e-6), 0.5)
    return float(math.log(rate / (1.0 - rate)))


@dataclass(frozen=True)
class NetworkFamily:
    """How one kind of network is configured and built.

    ``architecture(size, cfg) -> dict``: the architecture of one size of the sweep; ``cfg`` is
    the ``network`` section when the family is the depth sweep's (``network.family``), the
    family's ``families.<name>.options`` when it is compared beside it. It should carry the size
    under ``"depth"`` (evaluation tables and figures are indexed by it).
    ``build(n_inputs, architecture, n_dendritic=0, init_std=None) -> nn.Module``: a freshly
    initialised network; ``init_std`` (config ``training.init_std``) is the scale of the initial
    weights for families that use one, ``None`` for the family's own choice.
    ``adapt_to_data(architecture, channels) -> dict`` (optional): the architecture completed from
    the training data's channels (``channel_segment``, ``channel_kind``, ``segment_section``
    arrays), before the network is built; the result is what the checkpoint stores.
    A network that defines ``set_spike_bias(value)`` gets its spike head's starting bias from
    ``training.spike_bias_init``; one that does not keeps its own (training logs a warning).
    ``size_label``: what the size index counts (axis labels). ``options``: the family's options
    and their defaults (the keys ``families.<name>.options`` may set).
    """

    architecture: Callable[[int, dict], dict]
    build: Callable[..., nn.Module]
    adapt_to_data: Callable[[dict, Mapping], dict] | None = None
    size_label: str = "size"
    options: Mapping[str, object] = field(default_factory=dict)


class RecurrentNetwork(nn.Module):
    """What the recurrent families share: linear heads read as the family outputs, the size
    queries, and ``context_ms`` as the receptive field (the preceding input evaluation windows
    give each scored output; a state carried longer than a training window was never trained)."""

    context_ms: int

    @torch.no_grad()
    def set_spike_bias(self, value: float) -> None:
        """Start the spike head at ``value`` (see ``initial_spike_bias``)."""
        self.heads.bias[0] = float(value)

    @staticmethod
    def read_heads(out: torch.Tensor) -> dict[str, torch.Tensor]:
        """(batch, 2 + n_dendritic, time) head outputs -> the family output dict."""
        result = {"spike_logit": out[:, 0], "soma": out[:, 1]}
        if out.shape[1] > 2:
            result["dendritic"] = out[:, 2:]
        return result

    @property
    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.parameters()))

    @property
    def receptive_field(self) -> int:
        return self.context_ms


def family_options(defaults: Mapping, cfg: Mapping) -> dict:
    """The family's options from ``cfg``, each defaulting to ``defaults`` (other keys ignored:
    the study config rejects unknown option keys by name)."""
    return {key: cfg.get(key, value) for key, value in defaults.items()}


@dataclass(frozen=True)
class NetworkSize:
    n_parameters: int
    receptive_field: int  # ms
    macs_per_ms: int
    activations_per_ms: int  # floats of every layer's output per ms of one window (for memory)


FAMILIES: Registry[NetworkFamily] = Registry("network family")


def build_network(
    family: str, n_inputs: int, architecture: dict, n_dendritic: int = 0, init_std=None
) -> nn.Module:
    return FAMILIES[family].build(
        int(n_inputs), dict(architecture), n_dendritic=int(n_dendritic), init_std=init_std
    )


def adapt_to_data(family: str, architecture: dict, channels: Mapping) -> dict:
    """``architecture`` completed from the training data's channels by the family's
    ``adapt_to_data`` (unchanged for families without one)."""
    adapt = FAMILIES[family].adapt_to_data
    return dict(architecture) if adapt is None else adapt(dict(architecture), channels)


def candidate_architectures(family: str, size: int, network_cfg: dict) -> list[dict]:
    """The architectures trained at one size: one per entry of ``network_cfg["candidates"]``
    (overrides of the ``network`` section), in order, each distinct one once (an explicit
    per-depth architecture ignores the overrides, so its candidates coincide). The position in
    this list is the candidate's index in the workflow's paths (``c{index}``)."""
    out: list[dict] = []
    for overrides in network_cfg["candidates"]:
        arch = FAMILIES[family].architecture(int(size), {**network_cfg, **overrides})
        if arch not in out:
            out.append(arch)
    return out


def network_size(family: str, n_inputs: int, architecture: dict, n_dendritic: int = 0):
    """Parameters, receptive field, MACs and activation floats of a network, without training it."""
    return _network_size(
        family, int(n_inputs), json.dumps(architecture, sort_keys=True), n_dendritic
    )


@lru_cache(maxsize=256)
def _network_size(family: str, n_inputs: int, architecture_json: str, n_dendritic: int):
    with torch.device("meta"):
        model = build_network(family, n_inputs, json.loads(architecture_json), n_dendritic)
    # Activation memory depends on the family's layers: count the outputs of every leaf module in
    # one forward pass of a short meta window (shapes only, nothing is computed).
    window = 8
    floats = []

    def count(_module, _inputs, output):
        for tensor in output.values() if isinstance(output, dict) else (output,):
            if isinstance(tensor, torch.Tensor):
                floats.append(tensor.numel())

    leaves = [m for m in model.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        model(torch.zeros(1, n_inputs, window, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return NetworkSize(
        n_parameters=int(model.n_parameters),
        receptive_field=int(model.receptive_field),
        macs_per_ms=int(model.macs_per_ms),
        activations_per_ms=-(-sum(floats) // window),
    )
