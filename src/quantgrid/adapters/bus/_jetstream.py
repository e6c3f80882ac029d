"""The JetStream stream behind NatsEventBus: its configuration, created or brought up to date."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from quantgrid.adapters.bus._errors import BusError, BusUnavailableError

START_HINT = "start it with `nats-server -js` (JetStream on), or point QUANTGRID_NATS_URL at one"
_STREAM_NAME_IN_USE = 10058  # JetStream's err_code for a create that races another


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``, for error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def stream_config(
    name: str,
    subjects: tuple[str, ...],
    max_age_s: float,
    max_bytes: int,
    duplicate_window_s: float,
) -> StreamConfig:
    """Return the configuration of a stream kept on disk, limited by age and size."""
    return StreamConfig(
        name=name,
        subjects=list(subjects),
        retention=RetentionPolicy.LIMITS,  # every consumer sees every message
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_s,
        max_bytes=max_bytes,
        duplicate_window=duplicate_window_s,
        num_replicas=1,
    )


async def ensure_stream(js: JetStreamContext, wanted: StreamConfig, *, where: str) -> None:
    """Create the stream ``wanted`` describes, or update it where it differs.

    Raises
    ------
    BusUnavailableError
        The server at ``where`` does not answer JetStream requests.
    BusError
        The server refused the stream (its subjects overlap another stream's, say).
    """
    assert wanted.name is not None
    try:
        try:
            info = await js.stream_info(wanted.name)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(wanted)
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != _STREAM_NAME_IN_USE:
                    raise
                # Another process created it meanwhile, with other limits: ours win.
                await js.update_stream(wanted)
            return
        have = info.config
        if (
            sorted(have.subjects or []) != sorted(wanted.subjects or [])
            or _differs(have.max_age, wanted.max_age)
            or have.max_bytes != wanted.max_bytes
            or _differs(have.duplicate_window, wanted.duplicate_window)
        ):
            await js.update_stream(wanted)
    except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError) as exc:
        msg = (
            f"NATS at {where} does not answer JetStream requests ({type(exc).__name__}); "
            f"{START_HINT}"
        )
        raise BusUnavailableError(msg) from exc
    except nats.js.errors.APIError as exc:
        msg = (
            f"cannot create or update stream {wanted.name!r} with subjects {wanted.subjects} "
            f"on {where}: {exc.description} (code {exc.err_code})"
        )
        raise BusError(msg) from exc


def _differs(a: float | None, b: float | None) -> bool:
    return round((a or 0.0) * 1e9) != round((b or 0.0) * 1e9)
