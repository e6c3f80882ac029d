"""Fingerprints of training data, recorded with every model for lineage."""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt


def compute_data_hash(*arrays: npt.ArrayLike) -> str:
    """Return the SHA-256 hex digest of arrays' shapes, dtypes and bytes, in order.

    Parameters
    ----------
    *arrays
        The training data, e.g. ``X, y`` or ``X, y, ts, t1``.

    Raises
    ------
    ValueError
        If no array is given or one holds Python objects.

    Notes
    -----
    Two calls agree exactly when the arrays have the same shapes, dtypes and values in
    the same order; the memory layout (C or Fortran order, views) does not matter.
    """
    if not arrays:
        msg = "compute_data_hash needs at least one array"
        raise ValueError(msg)
    digest = hashlib.sha256()
    for position, values in enumerate(arrays):
        array = np.ascontiguousarray(values)
        if array.dtype.hasobject:
            msg = f"array {position} holds Python objects, which have no stable bytes"
            raise ValueError(msg)
        # Shape and dtype first: they fix how many bytes follow, so arrays cannot run into
        # each other, and a reshape or a cast changes the digest.
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
