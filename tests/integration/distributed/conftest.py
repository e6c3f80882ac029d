"""One local Ray per test module: 2 CPUs, loopback only, no dashboard.

Without Ray the tests that use it skip, except under ``CI=true``, where a missing Ray
fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Read when Ray is imported: the Ray started here listens on loopback only.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    """Start one local Ray for the module; skip (fail under CI=true) if it cannot run."""
    try:
        import ray

        ray.init(
            address="local",  # our own Ray, whatever `ray start` cluster this machine runs
            num_cpus=2,
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
        )
    except Exception as exc:  # ImportError, or Ray failing to start here
        message = f"Ray cannot run here: {type(exc).__name__}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield ray
    ray.shutdown()
