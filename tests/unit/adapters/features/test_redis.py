"""RedisOnlineStore without a server: a clear error, and a client it cannot use refused."""

from __future__ import annotations

import pytest
import redis

from quantgrid.adapters.features import FeatureStoreUnavailableError, RedisOnlineStore

CLOSED_PORT = "redis://:secret@127.0.0.1:1/0"  # nothing listens on port 1


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with RedisOnlineStore(CLOSED_PORT, timeout_s=0.5) as store:
        with pytest.raises(FeatureStoreUnavailableError, match="cannot reach Redis") as caught:
            store.get("fs", "AAPL")
        with pytest.raises(FeatureStoreUnavailableError, match="redis-server"):
            store.put("fs", "AAPL", 1, ["a"], [1.0])
        with pytest.raises(FeatureStoreUnavailableError):
            store.get_many("fs", ["AAPL"])

    assert "secret" not in str(caught.value)
    assert ":***@127.0.0.1:1" in str(caught.value)


def test_a_client_that_decodes_responses_is_refused() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, decode_responses=True)

    with pytest.raises(ValueError, match="decode_responses=False"):
        RedisOnlineStore(client)
    client.close()
