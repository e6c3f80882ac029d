"""Keys of the feature stores: feature set and instrument ids made safe for paths and Redis."""

from __future__ import annotations

from urllib.parse import quote


def encode_key(name: str, text: str) -> str:
    """Return ``text`` percent-encoded for a path segment or key part (no ``/`` or ``:``).

    Raises
    ------
    ValueError
        If ``text`` is not a non-empty string.
    """
    if not isinstance(text, str) or not text:
        msg = f"{name} must be a non-empty string, got {text!r}"
        raise ValueError(msg)
    encoded = quote(text, safe="")
    # "." and ".." are left alone by quote() but mean something else in a path.
    return encoded.replace(".", "%2E") if not encoded.strip(".") else encoded
