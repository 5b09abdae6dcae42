"""Provenance attributes for self-describing outputs."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata

import neurodepth

PACKAGES = (
    "neuron",
    "numpy",
    "scipy",
    "xarray",
    "netCDF4",
    "torch",
    "pytorch-lightning",
)


def package_versions() -> dict:
    # neurodepth's own version from the package, not its metadata: rule jobs import it from the
    # workflow's src/, which no installer registered (a conda env of envs/ does not install it)
    versions = {"python": platform.python_version(), "neurodepth": neurodepth.__version__}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def config_hash(obj) -> str:
    """sha256 (16 hex digits) of the canonical JSON of a config section."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def provenance_attrs(**extra) -> dict:
    """Global netCDF attributes: versions (JSON), creation time, and the caller's extras.

    The creation time is deliberately *not* included so that reruns are bit-identical.
    """
    attrs = {
        "Conventions": "CF-1.10",
        "institution": "neurodepth",
        "source": "neurodepth " + package_versions()["neurodepth"],
        "package_versions": json.dumps(package_versions(), sort_keys=True),
    }
    for key, value in extra.items():
        if isinstance(value, (dict, list, tuple)):
            value = json.dumps(value, sort_keys=True, default=str)
        elif isinstance(value, bool):
            value = int(value)
        elif value is None:
            value = ""
        attrs[key] = value
    return attrs
