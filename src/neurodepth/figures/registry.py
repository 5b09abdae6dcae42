"""The figure registry: each figure, what it reads and where the report shows it, in one entry.

A figure module draws from files and registers itself with :func:`register`; the workflow
generates one rule ``figure_<name>`` per entry (``workflow/rules/figures.smk``), ``rule all``
asks for every entry that applies to the config's variants, and ``scripts/figure.py`` looks the
entry up by name. Adding a figure is one module with one ``register`` call (from neurodepth or
from a plugin module) plus its report caption.

Inputs are declared as artefacts, not paths, so the workflow owns the file layout: the workflow
passes its path patterns to :func:`input_paths`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neurodepth.core.errors import ConfigError
from neurodepth.core.registry import Registry

#: One file each, written by the summary stage.
SUMMARY_ARTEFACTS = ("summary_metrics", "depth_needed", "best_networks", "baseline_summary")
#: One file each, written when the config compares network families (config key ``families``).
FAMILY_ARTEFACTS = ("family_comparison", "smallest_models")
#: One file per trained network (variant x depth x seed).
NETWORK_ARTEFACTS = ("predictions", "checkpoint")
#: Every artefact a figure can read; the workflow maps each to a path pattern.
ARTEFACTS = SUMMARY_ARTEFACTS + FAMILY_ARTEFACTS + ("dataset",) + NETWORK_ARTEFACTS
NETWORK_CHOICES = ("all", "shallowest")


@dataclass(frozen=True)
class Input:
    """One keyword argument of a figure's ``draw``, as an artefact.

    ``variants``: ``"all"`` (every variant of the config), ``"main"`` (:func:`main_variant`) or one
    variant's name; ``split``: the dataset split; ``networks``: ``"all"`` (every depth x seed) or
    ``"shallowest"`` (the smallest depth, the first seed). The argument is a list of paths when
    the declaration can match several files (all variants, or all networks), else one path.
    """

    artefact: str
    variants: str = "all"
    split: str = "test"
    networks: str = "all"

    def __post_init__(self):
        if self.artefact not in ARTEFACTS:
            raise ConfigError(
                f"unknown figure input artefact {self.artefact!r}; one of {ARTEFACTS}"
            )
        if self.networks not in NETWORK_CHOICES:
            raise ConfigError(f"figure input networks={self.networks!r}; one of {NETWORK_CHOICES}")

    @property
    def many(self) -> bool:
        if self.artefact in SUMMARY_ARTEFACTS + FAMILY_ARTEFACTS:
            return False
        if self.variants == "all":
            return True
        return self.artefact in NETWORK_ARTEFACTS and self.networks == "all"


@dataclass(frozen=True)
class Figure:
    """A registered figure. ``draw(**inputs)`` returns a matplotlib Figure; ``caption`` is the
    report caption (.rst), by default ``workflow/report/<name>.rst``; the figure is made only
    when every variant in ``requires_variants`` is run, and when it reads a family artefact, only
    when the config compares network families."""

    name: str
    draw: Callable[..., Any]
    inputs: Mapping[str, Input]
    category: str
    caption: str | None = None
    requires_variants: tuple[str, ...] = field(default=())
    # reads the segments' coordinates (x_um, y_um), which only our simulated cells record
    needs_segment_geometry: bool = False

    @property
    def caption_file(self) -> str:
        return self.caption or f"{self.name}.rst"

    def applies(
        self,
        variants: Sequence[str],
        compares_families: bool = False,
        segment_geometry: bool = True,
    ) -> bool:
        reads_families = any(i.artefact in FAMILY_ARTEFACTS for i in self.inputs.values())
        return (
            all(v in variants for v in self.requires_variants)
            and (compares_families or not reads_families)
            and (segment_geometry or not self.needs_segment_geometry)
        )


FIGURES: Registry[Figure] = Registry("figure")


def register(
    name: str,
    draw: Callable[..., Any],
    inputs: Mapping[str, Input],
    category: str,
    caption: str | None = None,
    requires_variants: Sequence[str] = (),
    needs_segment_geometry: bool = False,
) -> Figure:
    """Register a figure (see :class:`Figure`); returns the entry."""
    return FIGURES.register(
        name,
        Figure(
            name,
            draw,
            dict(inputs),
            category,
            caption,
            tuple(requires_variants),
            needs_segment_geometry,
        ),
    )


def best_network_inputs(key: str, artefact: str) -> dict[str, Input]:
    """The inputs of a figure of the main variant's networks on its test set: the dataset,
    ``artefact`` (predictions or checkpoints) as argument ``key``, and the best_networks table
    that picks the network to show."""
    return {
        "dataset": Input("dataset", "main", split="test"),
        key: Input(artefact, "main"),
        "best_networks": Input("best_networks"),
    }


def main_variant(variants: Sequence[str]) -> str:
    """The variant whose networks the single-variant figures show: the full cell when it is run."""
    return "full" if "full" in variants else variants[0]


def figures_for(
    variants: Sequence[str], compares_families: bool = False, segment_geometry: bool = True
) -> list[str]:
    """The registered figures that apply to a run of ``variants`` (comparing network families
    or not; on datasets whose segment table has coordinates or not), in registration order."""
    return [
        name
        for name, figure in FIGURES.items()
        if figure.applies(variants, compares_families, segment_geometry)
    ]


def input_paths(
    figure: Figure,
    patterns: Mapping[str, str],
    *,
    cell: str,
    variants: Sequence[str],
    depths: Sequence[int],
    seeds: Sequence[int],
) -> dict[str, str | list[str]]:
    """The keyword arguments of ``figure.draw`` as paths, from one pattern per artefact.

    Patterns may use ``{cell}``, ``{variant}``, ``{split}``, ``{depth}`` and ``{seed}``; network
    files are listed variant-major, then depth, then seed.
    """
    out: dict[str, str | list[str]] = {}
    for key, spec in figure.inputs.items():
        pattern = patterns[spec.artefact]
        if spec.artefact in SUMMARY_ARTEFACTS + FAMILY_ARTEFACTS:
            out[key] = pattern
            continue
        if spec.variants == "all":
            chosen = list(variants)
        elif spec.variants == "main":
            chosen = [main_variant(variants)]
        else:
            chosen = [spec.variants]
        if spec.artefact in NETWORK_ARTEFACTS:
            if spec.networks == "all":
                nets = [(d, s) for d in depths for s in seeds]
            else:
                nets = [(min(depths), seeds[0])]
        else:
            nets = [(None, None)]
        paths = [
            pattern.format(cell=cell, variant=v, split=spec.split, depth=d, seed=s)
            for v in chosen
            for d, s in nets
        ]
        out[key] = paths if spec.many else paths[0]
    return out
