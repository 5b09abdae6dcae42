"""Atomic file output: write to a temporary name in the target folder, then rename.

A job killed mid-write leaves only a ``.tmp-*`` file, which no later stage reads, never a
truncated file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from neurodepth.core.errors import DiskSpaceError


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".tmp-{path.name}.", suffix=suffix or path.suffix, dir=path.parent
    )
    os.close(fd)
    # mkstemp creates 0600; give the final file the permissions a plain open() would
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv_atomic(df, path, **kwargs) -> None:
    kwargs.setdefault("index", False)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)


def write_netcdf_atomic(ds, path, encoding=None) -> None:
    """Write an xarray Dataset as netCDF4 atomically."""
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)


def save_figure_atomic(fig, path, **kwargs) -> None:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), **kwargs)


def check_free_space(folder, needed_bytes: int, what: str = "output") -> None:
    """Refuse to start work whose output cannot fit, before anything is overwritten."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed_bytes:
        raise DiskSpaceError(
            f"too little disk for {what} in {folder}: need about {needed_bytes / 1e6:.1f} MB, "
            f"{free / 1e6:.1f} MB free"
        )
