"""What a campaign records about where and how it ran."""

from __future__ import annotations

import platform
import socket
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

PACKAGES = (
    "batscreen",
    "pymatgen",
    "ase",
    "torch",
    "chgnet",
    "mace-torch",
    "e3nn",
    "numpy",
    "scipy",
    "spglib",
    "pydantic",
    "pyarrow",
    "optuna",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the results."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def device_description(device: str) -> dict[str, Any]:
    """The compute device, with the GPU model when there is one."""
    info: dict[str, Any] = {"device": device}
    if device.startswith("cuda"):
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def host_description() -> dict[str, Any]:
    """Host name, OS, Python and CPU count."""
    import os

    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
