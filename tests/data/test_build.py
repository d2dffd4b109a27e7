"""build_checked: data keys a new run's source never reads are found, whatever the source."""

from __future__ import annotations

import re

import pytest

from gankit.config import DataConfig
from gankit.data import DATASETS, build_checked, build_dataset
from gankit.errors import GankitError


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (DataConfig(name="ring", grid_size=7), r"data\.grid_size=7 does not apply to data\.name=ring \(it reads data\.modes, data\.radius, data\.std\)"),
        (DataConfig(name="grid", radius=3.0), r"data\.radius=3\.0 does not apply to data\.name=grid"),
        (DataConfig(name="digits", mean=1.0), r"data\.mean=1\.0 does not apply to data\.name=digits"),
    ],
)
def test_strict_build_refuses_keys_the_source_does_not_read(config, message):
    source, error = build_checked(config)
    assert isinstance(error, GankitError) and re.search(message, str(error))
    assert set(source.fields) == set(build_dataset(config).fields)  # built all the same (saved runs, metrics)


def test_strict_build_accepts_what_each_toy_and_built_in_source_reads():
    for config in (DataConfig(name="ring", modes=4, radius=3.0), DataConfig(name="grid", grid_size=3, spacing=1.0),
                   DataConfig(name="gaussian1d", mean=2.0), DataConfig(name="digits", image_size=16)):
        source, error = build_checked(config)
        assert error is None and set(source.fields) == set(build_dataset(config).fields)
    assert {"ring", "grid", "gaussian1d", "digits"} <= set(DATASETS)
