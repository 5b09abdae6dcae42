"""Causal temporal-convolutional networks (TCN) of the paper, as plain ``nn.Module``s.

Input: ``(batch, n_inputs, time)`` float (binary synaptic inputs at 1 ms). Every hidden layer is a
causal 1-D convolution over time across all channels (left padding only, so the output at ``t``
depends on inputs at ``<= t``), then ReLU, then BatchNorm; no dropout and no residuals. Heads are
1x1 convolutions: spike logit (sigmoid applied in the loss / at prediction), soma voltage (linear)
and optionally whitened-PCA dendritic components (linear). Depth 1 is the one-hidden-layer FCN.
Registered as the network family ``tcn`` (see ``neurodepth.learning.networks``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neurodepth.core.errors import ConfigError
from neurodepth.learning.networks.family import FAMILIES, SPIKE_BIAS_INIT, NetworkFamily


class CausalConv1d(nn.Conv1d):
    """Conv1d that pads only on the left so no output sees the future."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, padding=0)
        self.left_pad = kernel_size - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left_pad, 0)))


class TCN(nn.Module):
    """Temporal-convolutional network: ``len(kernels)`` causal layers of ``width`` channels.

    ``forward(x)`` returns a dict with ``spike_logit`` (batch, time), ``soma`` (batch, time) and,
    when ``n_dendritic > 0``, ``dendritic`` (batch, n_dendritic, time).
    """

    def __init__(
        self,
        n_inputs: int,
        kernels: list[int],
        width: int,
        n_dendritic: int = 0,
        init_std: float = 0.01,
    ):
        super().__init__()
        kernels = [int(k) for k in kernels]
        if n_inputs < 1:
            raise ConfigError(f"TCN n_inputs must be >= 1, got {n_inputs}")
        if not kernels or any(k < 1 for k in kernels):
            raise ConfigError(
                f"TCN kernels must be a non-empty list of positive ints, got {kernels}"
            )
        if width < 1:
            raise ConfigError(f"TCN width must be >= 1, got {width}")
        self.n_inputs = int(n_inputs)
        self.kernels = kernels
        self.width = int(width)
        self.n_dendritic = int(n_dendritic)
        self.init_std = float(init_std)
        layers = []
        in_ch = self.n_inputs
        for k in kernels:
            layers += [CausalConv1d(in_ch, self.width, k), nn.ReLU(), nn.BatchNorm1d(self.width)]
            in_ch = self.width
        self.body = nn.Sequential(*layers)
        self.spike_head = nn.Conv1d(self.width, 1, 1)
        self.soma_head = nn.Conv1d(self.width, 1, 1)
        self.dendritic_head = (
            nn.Conv1d(self.width, self.n_dendritic, 1) if self.n_dendritic else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Small truncated-normal weights (cut at 2 SD) as in the paper; BatchNorm after each ReLU
        # re-normalises activations, so the exact scale matters little beyond avoiding dead units.
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.trunc_normal_(
                    module.weight, std=self.init_std, a=-2 * self.init_std, b=2 * self.init_std
                )
                nn.init.zeros_(module.bias)
        nn.init.constant_(self.spike_head.bias, SPIKE_BIAS_INIT)

    @torch.no_grad()
    def set_spike_bias(self, value: float) -> None:
        """Start the spike head at ``value`` (see ``family.initial_spike_bias``)."""
        nn.init.constant_(self.spike_head.bias, float(value))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        out = {"spike_logit": self.spike_head(h)[:, 0, :], "soma": self.soma_head(h)[:, 0, :]}
        if self.dendritic_head is not None:
            out["dendritic"] = self.dendritic_head(h)
        return out

    @property
    def n_parameters(self) -> int:
        return int(sum(p.numel() for p in self.parameters()))

    @property
    def receptive_field(self) -> int:
        """Input milliseconds that one output sees: sum(kernel - 1) + 1."""
        return int(sum(k - 1 for k in self.kernels) + 1)

    @property
    def macs_per_ms(self) -> int:
        """Multiply-accumulates for one output millisecond (convs + heads; BN folded away)."""
        macs = 0
        in_ch = self.n_inputs
        for k in self.kernels:
            macs += in_ch * self.width * k
            in_ch = self.width
        macs += self.width * (2 + self.n_dendritic)
        return int(macs)

    def architecture(self) -> dict:
        return {"depth": len(self.kernels), "kernels": list(self.kernels), "width": self.width}


def architecture_for_depth(depth: int, network_cfg: dict) -> dict:
    """Architecture dict ``{"depth", "kernels", "width"}`` for one depth of the sweep.

    ``network_cfg["architectures"][depth]`` (int or str key; ``kernels`` and ``width``) wins when
    present. Otherwise the first layer uses ``first_kernel_ms`` and later ones ``kernel_ms``, all
    ``width`` channels. The config schema guarantees the keys and that explicit kernels number
    ``depth``.
    """
    depth = int(depth)
    archs = network_cfg["architectures"]
    entry = archs.get(depth, archs.get(str(depth)))
    if entry is not None:
        kernels, width = entry["kernels"], entry["width"]
    else:
        kernels = [network_cfg["first_kernel_ms"]] + [network_cfg["kernel_ms"]] * (depth - 1)
        width = network_cfg["width"]
    return {"depth": depth, "kernels": [int(k) for k in kernels], "width": int(width)}


def build(n_inputs: int, architecture: dict, n_dendritic: int = 0, init_std=None) -> TCN:
    options = {} if init_std is None else {"init_std": float(init_std)}
    return TCN(n_inputs, architecture["kernels"], architecture["width"], n_dendritic, **options)


FAMILIES.register(
    "tcn",
    NetworkFamily(architecture=architecture_for_depth, build=build, size_label="layers"),
)
