"""Parameter sweeps on a Ray cluster (needs the ``distributed`` extra).

An edge package, like the CLI: it may import Ray, the core never imports it. Ray is
imported on first use, so importing this package works without Ray; the functions then
raise ``RayUnavailableError``. See ``quantgrid.distributed._ray`` for which Ray a call
uses (``address=None``: ``RAY_ADDRESS`` if set, else a local Ray on loopback).
"""

from quantgrid.distributed._ray import (
    RAY_MISSING,
    RayUnavailableError,
    import_ray,
    ray_map,
    ray_sweep_crosses,
)

__all__ = ["RAY_MISSING", "RayUnavailableError", "import_ray", "ray_map", "ray_sweep_crosses"]
