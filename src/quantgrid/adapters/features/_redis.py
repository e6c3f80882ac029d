"""The online feature store on Redis: latest rows any process can serve from."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec
import numpy as np
import numpy.typing as npt
import redis
import redis.exceptions

from quantgrid.adapters.features._errors import FeatureStoreError, FeatureStoreUnavailableError
from quantgrid.adapters.features._keys import encode_key
from quantgrid.adapters.features._online import make_row
from quantgrid.ml import FeatureRow

T = TypeVar("T")

_START_HINT = "start it with `redis-server`, or point QUANTGRID_REDIS_URL at one"
# int64 ns shifted to be non-negative, as 20 digits: Lua numbers are doubles, exact only
# to 2**53, so the script compares the two 10-digit halves instead.
_TS_OFFSET = 2**63
_TS_DIGITS = 20

# KEYS[1] the row's hash; ARGV[1] its ts (20 digits), ARGV[2] the encoded row.
_PUT_IF_NOT_OLDER = """
local stored = redis.call('HGET', KEYS[1], 'ts')
if stored then
  local hi, lo = tonumber(string.sub(stored, 1, 10)), tonumber(string.sub(stored, 11, 20))
  local new_hi = tonumber(string.sub(ARGV[1], 1, 10))
  local new_lo = tonumber(string.sub(ARGV[1], 11, 20))
  if hi > new_hi or (hi == new_hi and lo > new_lo) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'row', ARGV[2])
return 1
"""


class _StoredRow(msgspec.Struct, array_like=True, frozen=True):
    ts: int
    names: tuple[str, ...]
    values: list[float]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(_StoredRow)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class RedisOnlineStore:
    """An online feature store on a Redis server, shared by every process using it.

    Parameters
    ----------
    client
        A ``redis.Redis`` client (made with ``decode_responses=False``, the default),
        or a URL such as ``redis://127.0.0.1:6379/0`` to connect to.
    prefix
        Put before every key, so stores (and test runs) sharing a server stay apart.
    timeout_s
        With a URL: the longest wait for a connection, and for one command's answer.

    Notes
    -----
    One hash per (feature set, instrument) under
    ``<prefix><feature set>:<instrument>`` (both percent-encoded), holding the row's
    ts and the row as MessagePack. The ts check and the write run in one Lua script,
    so concurrent writers cannot put an older row over a newer one. The client is
    synchronous: from asyncio code, call it in a worker thread.
    """

    def __init__(
        self,
        client: redis.Redis | str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "quantgrid:features:",
        timeout_s: float = 2.0,
    ) -> None:
        if isinstance(client, str):
            self.url = client
            self._redis = redis.Redis.from_url(
                client,
                socket_connect_timeout=timeout_s,
                socket_timeout=timeout_s,
                decode_responses=False,
            )
            self._owns_client = True
        else:
            if client.get_connection_kwargs().get("decode_responses"):
                msg = "RedisOnlineStore: the client must be made with decode_responses=False"
                raise ValueError(msg)
            self.url = "the given client"
            self._redis = client
            self._owns_client = False
        self.prefix = prefix
        self._put_script = self._redis.register_script(_PUT_IF_NOT_OLDER)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection, if the store made it from a URL."""
        if self._owns_client:
            self._redis.close()

    def _key(self, feature_set: str, instrument_id: str) -> str:
        return (
            f"{self.prefix}{encode_key('feature_set', feature_set)}:"
            f"{encode_key('instrument_id', instrument_id)}"
        )

    def _call(self, command: Callable[[], T]) -> T:
        try:
            return command()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            msg = f"cannot reach Redis at {_redact(self.url)} ({exc}); {_START_HINT}"
            raise FeatureStoreUnavailableError(msg) from exc
        except redis.exceptions.RedisError as exc:
            msg = f"Redis at {_redact(self.url)} refused a command: {exc}"
            raise FeatureStoreError(msg) from exc

    def put(
        self,
        feature_set: str,
        instrument_id: str,
        ts_ns: int,
        names: Sequence[str],
        values: npt.ArrayLike,
    ) -> bool:
        """Store a row unless a newer one is stored; return whether it was stored.

        Raises
        ------
        ValueError
            If a key is empty, or the names and values do not pair up.
        FeatureStoreUnavailableError
            If Redis cannot be reached.
        """
        row = make_row(feature_set, instrument_id, ts_ns, names, values)
        payload = _encoder.encode(_StoredRow(row.ts, row.names, row.values.tolist()))
        stamp = f"{row.ts + _TS_OFFSET:0{_TS_DIGITS}d}"
        key = self._key(feature_set, instrument_id)
        stored: Any = self._call(lambda: self._put_script(keys=[key], args=[stamp, payload]))
        return bool(stored)

    def get(self, feature_set: str, instrument_id: str) -> FeatureRow | None:
        """Return the latest row, or None if there is none.

        Raises
        ------
        FeatureStoreUnavailableError
            If Redis cannot be reached.
        """
        key = self._key(feature_set, instrument_id)
        data: Any = self._call(lambda: self._redis.hget(key, "row"))
        return None if data is None else _decode(instrument_id, data)

    def get_many(
        self, feature_set: str, instrument_ids: Iterable[str]
    ) -> dict[str, FeatureRow | None]:
        """Return the latest row of each instrument (None where there is none), in one trip.

        Raises
        ------
        FeatureStoreUnavailableError
            If Redis cannot be reached.
        """
        ids = list(instrument_ids)
        pipeline = self._redis.pipeline(transaction=False)
        for instrument_id in ids:
            pipeline.hget(self._key(feature_set, instrument_id), "row")
        answers: list[Any] = self._call(pipeline.execute)
        return {
            instrument_id: None if data is None else _decode(instrument_id, data)
            for instrument_id, data in zip(ids, answers, strict=True)
        }


def _decode(instrument_id: str, data: bytes) -> FeatureRow:
    stored = _decoder.decode(data)
    values = np.array(stored.values, dtype=np.float64)
    values.flags.writeable = False
    return FeatureRow(instrument_id, stored.ts, stored.names, values)
