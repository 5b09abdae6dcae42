"""Atomic outputs: a failure mid-write leaves the previous file intact and no partial file."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurodepth.core.atomic import (
    atomic_path,
    check_free_space,
    write_netcdf_atomic,
    write_text_atomic,
)
from neurodepth.core.errors import DiskSpaceError


def test_failed_write_keeps_previous_content_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "complete")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_netcdf_round_trip(tmp_path):
    ds = xr.Dataset({"v": (("t",), np.arange(5, dtype=np.float32), {"units": "mV"})})
    write_netcdf_atomic(ds, tmp_path / "a" / "b.nc")
    with xr.open_dataset(tmp_path / "a" / "b.nc") as back:
        np.testing.assert_array_equal(back["v"].values, ds["v"].values)
        assert back["v"].attrs["units"] == "mV"


def test_free_space_check_names_the_folder(tmp_path):
    check_free_space(tmp_path, 1)
    with pytest.raises(DiskSpaceError, match=str(tmp_path)):
        check_free_space(tmp_path / "deeper", 10**18, what="shards")
