"""Fixtures shared by the package's tests: small configurations, flow files on disk, the
CLI of the same build."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict

import numpy as np
import pytest

#: The embedded default's physics at 64 x 64, B = 4: every pair has its own analytic flow.
SMALL: Dict[str, Any] = {
    "scheduler_class": "analytic",
    "analytic_flow": [
        {"kind": "uniform", "speed": [0.2, 2.3], "angle": [0, 360]},
        {"kind": "lamb_oseen", "center": [[0.5, 1.1], [0.5, 1.1]], "circulation": [-3.0, 3.0],
         "core_radius": [0.13, 0.3]},
        {"kind": "taylor_green", "amplitude": [-2.2, 2.2], "wavelength": [0.4, 1.6]},
        {"kind": "shear", "center": [[0.6, 1.0], None], "rate": [-2.2, 2.2]},
    ],
    "analytic_num_examples": 1000,
    "image_shape": [64, 64],
    "flow_field_size": [1.6, 1.6],
    "resolution": 200,
    "img_offset": [0.16, 0.16],
    "dt": 0.01,
    "velocities_per_pixel": 1,
    "output_units": "pixels",
    "min_speed_x": -2.5,
    "max_speed_x": 2.5,
    "min_speed_y": -2.5,
    "max_speed_y": 2.5,
    "batch_size": 4,
    "flow_fields_per_batch": 2,
    "batches_per_flow_batch": 2,
    "seed": 7,
    "randomize": True,
    "seeding_density_range": [0.02, 0.04],
    "diameter_ranges": [[2.0, 4.0]],
    "intensity_ranges": [[150, 240]],
    "noise_gaussian_mean": 2,
    "noise_gaussian_std": 2,
}


@pytest.fixture
def small() -> Callable[..., Dict[str, Any]]:
    """small(**overrides): a fresh copy of SMALL with keys replaced."""

    def make(**over: Any) -> Dict[str, Any]:
        cfg = copy.deepcopy(SMALL)
        cfg.update(over)
        return cfg

    return make


def write_flow(path: Path, shape=(48, 48), shift: float = 0.0) -> None:
    """A smooth (H, W, 2) float32 flow in pixels per frame."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.stack([0.5 + 0.01 * y + shift, -0.3 + 0.01 * x], axis=-1).astype(np.float32)
    np.save(path, flow)


def npy_config(files, **over: Any) -> Dict[str, Any]:
    """A .npy-source configuration over files (each (48, 48, 2))."""
    cfg = {
        "scheduler_class": ".npy",
        "file_list": [str(f) for f in files],
        "image_shape": [32, 32],
        "flow_field_size": [48, 48],
        "resolution": 1,
        "img_offset": [8, 8],
        "dt": 1,
        "velocities_per_pixel": 1,
        "output_units": "pixels",
        "min_speed_x": -2,
        "max_speed_x": 2,
        "min_speed_y": -2,
        "max_speed_y": 2,
        "batch_size": 4,
        "flow_fields_per_batch": 2,
        "batches_per_flow_batch": 1,
        "seed": 3,
        "seeding_density_range": [0.05, 0.1],
        "diameter_ranges": [[1, 2]],
    }
    cfg.update(over)
    return cfg


@pytest.fixture
def flow_files(tmp_path: Path):
    """Five .npy flows in tmp_path/flows."""
    d = tmp_path / "flows"
    d.mkdir()
    files = []
    for i in range(5):
        f = d / f"flow_{i}.npy"
        write_flow(f, shift=0.1 * i)
        files.append(f)
    return files


@pytest.fixture
def cli() -> str:
    """The synthpix command of the same build (skips when the package runs outside one)."""
    path = os.environ.get("SP_CLI") or shutil.which("synthpix")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("the synthpix command of this build is not available (SP_CLI)")
    return path


# ---- ctest: an entry whose tests were all skipped reports as skipped (exit 77), not passed ----

_outcomes = {"passed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        _outcomes["passed"] += 1
    elif report.skipped:
        _outcomes["skipped"] += 1


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("SP_PYTEST_ALL_SKIPPED_EXIT") and exitstatus == 0 and _outcomes["skipped"] and not _outcomes["passed"]:
        session.exitstatus = int(os.environ["SP_PYTEST_ALL_SKIPPED_EXIT"])
