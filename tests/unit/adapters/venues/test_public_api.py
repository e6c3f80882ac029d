"""The live venue package's surface, and what importing the venues costs."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from decimal import Decimal

import pytest

from quantgrid.adapters.venues._mapping import decimal_places, on_increment

PUBLIC = (
    "ALPACA_CAPABILITIES",
    "BINANCE_SPOT_CAPABILITIES",
    "LIVE_URL",
    "PAPER_URL",
    "AlpacaClient",
    "CcxtClient",
    "DuplicateClientOrderIdError",
    "FillDifference",
    "LiveVenue",
    "LiveVenueConfig",
    "OrderRef",
    "PositionDifference",
    "ReconcileReport",
    "VenueBusyError",
    "VenueCapabilities",
    "VenueClient",
    "VenueError",
    "VenueFill",
    "VenueOrder",
    "VenueOrderRequest",
    "VenueOrderStatus",
    "VenuePosition",
    "VenueRejectedError",
    "VenueUnreachableError",
    "compare_with_venue",
)


def test_the_public_api_is_stable() -> None:
    module = importlib.import_module("quantgrid.adapters.venues")
    assert tuple(module.__all__) == PUBLIC
    for name in module.__all__:
        assert getattr(module, name) is not None


def loaded_after(statement: str) -> set[str]:
    """Return the top-level modules a fresh interpreter holds after ``statement``."""
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return set(out.split())


def test_importing_the_venues_loads_neither_the_live_adapters_nor_their_libraries() -> None:
    loaded = loaded_after("import quantgrid.venues")
    assert not {m for m in loaded if m.startswith(("quantgrid.adapters.venues", "ccxt", "aiohttp"))}
    assert "httpx" not in loaded


def test_importing_the_live_adapters_does_not_load_ccxt() -> None:
    loaded = loaded_after("import quantgrid.adapters.venues")
    assert "quantgrid.adapters.venues" in loaded
    assert not {m for m in loaded if m.startswith("ccxt")}


@pytest.mark.parametrize(
    ("value", "increment", "written"),
    [
        (189.5, 0.01, "189.50"),
        (10.0, 1.0, "10"),
        (0.01, 0.00001, "0.01000"),
        (100.30000000000001, 0.1, "100.3"),
        (7.75, 0.25, "7.75"),
        (1.5, 0.001, "1.500"),
    ],
)
def test_quantities_and_prices_are_written_exactly_on_their_increment(
    value: float, increment: float, written: str
) -> None:
    assert str(on_increment(value, increment)) == written
    assert on_increment(value, increment) % Decimal(repr(increment)) == 0


def test_decimal_places_of_increments() -> None:
    assert [decimal_places(i) for i in (1.0, 5.0, 0.01, 0.25, 1e-8)] == [0, 0, 2, 2, 8]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"poll_interval_s": 0.0}, "poll_interval_s must be a number in [0.01, 60]"),
        ({"poll_interval_s": 61}, "poll_interval_s must be a number in [0.01, 60]"),
        ({"busy_retries": 11}, "busy_retries must be a whole number in [0, 10]"),
        ({"busy_backoff_s": float("nan")}, "busy_backoff_s must be a number"),
        ({"symbols": {"BTCUSDT": ""}}, "symbols must map instrument ids to non-empty"),
    ],
)
def test_a_bad_config_names_the_field(overrides: dict[str, object], message: str) -> None:
    from quantgrid.adapters.venues import LiveVenueConfig

    with pytest.raises(ValueError, match=re.escape(message)):
        LiveVenueConfig(**overrides)  # type: ignore[arg-type]
