"""RedisOnlineStore on a real server: the online store contract, and atomic newest-wins."""

from __future__ import annotations

import threading

import pytest
import redis

from quantgrid.adapters.features import RedisOnlineStore
from tests.unit.adapters.features.online_contract import NAMES, OnlineStoreContract, T

pytestmark = pytest.mark.integration


class TestRedisOnlineStore(OnlineStoreContract):
    """The contract's ``store`` fixture comes from this directory's conftest."""


def test_stores_on_one_prefix_share_rows_and_keys_stay_under_it(
    store: RedisOnlineStore, client: redis.Redis, key_root: str, redis_url: str
) -> None:
    store.put("fs", "BTC/USDT", T, NAMES, [1.0, 2.0])

    with RedisOnlineStore(redis_url, prefix=key_root) as other:
        row = other.get("fs", "BTC/USDT")

    assert row is not None
    assert row.values.tolist() == [1.0, 2.0]
    assert [key.decode() for key in client.scan_iter(match=key_root + "*")] == [
        key_root + "fs:BTC%2FUSDT"
    ]


def test_racing_writers_leave_the_newest_row(
    client: redis.Redis, key_root: str, redis_url: str
) -> None:
    start = threading.Barrier(4)

    def write(offset: int) -> None:
        # One connection per thread, as processes sharing the server would have.
        with RedisOnlineStore(redis_url, prefix=key_root) as store:
            start.wait()
            for k in range(100):
                ts = T + 4 * k + offset
                store.put("fs", "AAPL", ts, NAMES, [float(ts - T), 0.0])
            # a late replay of old rows must not roll the features back
            store.put("fs", "AAPL", T + offset, NAMES, [-1.0, 0.0])

    threads = [threading.Thread(target=write, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    row = RedisOnlineStore(client, prefix=key_root).get("fs", "AAPL")
    assert row is not None
    assert row.ts == T + 4 * 99 + 3
    assert row.values[0] == 4 * 99 + 3
