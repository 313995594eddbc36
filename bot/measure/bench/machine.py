"""What the run measured on: the machine (CPUs, memory, load, CPU pressure), the installed package
versions and the project's git commit.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "walletbot",
    "numpy",
    "scipy",
    "scikit-learn",
    "jieba",
    "OpenCC",
    "pypinyin",
    "SQLAlchemy",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "psycopg",
)


def machine_info() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_mb": _total_memory_mb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": packages,
        # Other work on the machine when the run started: a loaded machine gives slower figures.
        "load_average": load,
        "cpu_pressure_avg60": _cpu_pressure(),
    }


def code_version(folder: Path) -> dict[str, Any]:
    """The git commit of the project and whether files differ from it (read-only git calls);
    nulls outside a git checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "--short", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "modified": None if status is None else bool(status)}


def _cpu_pressure() -> float | None:
    """Share of the last minute (%) in which some runnable task waited for a CPU (Linux PSI)."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(dict(item.split("=") for item in first.split()[1:])["avg60"])
    except (OSError, ValueError, KeyError, IndexError):
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _total_memory_mb() -> int:
    import psutil

    return int(psutil.virtual_memory().total) // (1024 * 1024)
