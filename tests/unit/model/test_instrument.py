"""Instruments: tick and lot rounding, size checks and field validation."""

from __future__ import annotations

import math
import re

import pytest

from quantgrid.model import Instrument

CENTS = Instrument("AAPL")
QUARTER = Instrument("ES", price_increment=0.25, size_increment=1.0, multiplier=50.0)
CRYPTO = Instrument("BTC", price_increment=0.5, size_increment=0.001)


def test_defaults() -> None:
    inst = Instrument("X")

    assert (inst.price_increment, inst.size_increment, inst.multiplier, inst.currency) == (
        0.01,
        1.0,
        1.0,
        "USD",
    )


@pytest.mark.parametrize(
    ("inst", "price", "expected"),
    [
        (CENTS, 100.004, 100.0),
        (CENTS, 100.006, 100.01),
        (CENTS, 0.1 + 0.2, 0.3),
        (CENTS, 99.99, 99.99),
        (QUARTER, 4500.1, 4500.0),
        (QUARTER, 4500.2, 4500.25),
        (QUARTER, 4500.6, 4500.5),
        (CRYPTO, 30000.74, 30000.5),
        (CRYPTO, 30000.76, 30001.0),
    ],
)
def test_round_price_to_nearest_tick(inst: Instrument, price: float, expected: float) -> None:
    assert inst.round_price(price) == expected


@pytest.mark.parametrize(
    ("inst", "price", "side", "expected"),
    [
        # Off-tick prices move against the trader: up for buys, down for sells.
        (CENTS, 100.001, +1, 100.01),
        (CENTS, 100.009, -1, 100.0),
        (CENTS, 100.011, +1, 100.02),
        (CENTS, 100.019, -1, 100.01),
        (QUARTER, 4500.01, +1, 4500.25),
        (QUARTER, 4500.24, -1, 4500.0),
        # Exact ticks stay put, also when float arithmetic put them a hair off.
        (CENTS, 100.01, +1, 100.01),
        (CENTS, 100.01, -1, 100.01),
        (CENTS, 0.1 + 0.2, +1, 0.3),
        (CENTS, 0.1 + 0.2, -1, 0.3),
        (CENTS, 100.0 + 0.07, +1, 100.07),
        (CENTS, 100.0 + 0.07, -1, 100.07),
        (QUARTER, 4500.75, +1, 4500.75),
        (QUARTER, 4500.75, -1, 4500.75),
    ],
)
def test_round_price_adverse(inst: Instrument, price: float, side: int, expected: float) -> None:
    assert inst.round_price_adverse(price, side) == expected


@pytest.mark.parametrize(
    ("inst", "quantity", "expected"),
    [
        (CENTS, 10.0, 10.0),
        (CENTS, 10.999, 10.0),
        (CENTS, 0.5, 0.0),
        (CRYPTO, 0.0019, 0.001),
        (CRYPTO, 0.003, 0.003),  # 0.003 / 0.001 is 2.9999999999999996 in floats
        (CRYPTO, 1.2345, 1.234),
    ],
)
def test_round_size_down(inst: Instrument, quantity: float, expected: float) -> None:
    assert inst.round_size_down(quantity) == expected


@pytest.mark.parametrize(
    ("inst", "quantity", "expected"),
    [
        (CENTS, 1.0, True),
        (CENTS, 250.0, True),
        (CENTS, 1.5, False),
        (CENTS, 0.0, False),
        (CENTS, -1.0, False),
        (CENTS, math.nan, False),
        (CENTS, math.inf, False),
        (CRYPTO, 0.003, True),
        (CRYPTO, 0.0035, False),
        (CRYPTO, 0.1 + 0.2, True),
    ],
)
def test_is_valid_size(inst: Instrument, quantity: float, expected: bool) -> None:
    assert inst.is_valid_size(quantity) is expected


@pytest.mark.parametrize("iid", ["", "   "])
def test_instrument_id_must_not_be_blank(iid: str) -> None:
    with pytest.raises(ValueError, match="instrument id must be a non-empty string"):
        Instrument(iid)


@pytest.mark.parametrize("field", ["price_increment", "size_increment", "multiplier"])
@pytest.mark.parametrize("value", [0.0, -0.01, math.nan, math.inf])
def test_increments_and_multiplier_must_be_positive_finite(field: str, value: float) -> None:
    message = f"instrument X: {field} must be a positive finite number, got {value}"
    with pytest.raises(ValueError, match=re.escape(message)):
        Instrument("X", **{field: value})  # type: ignore[arg-type]


def test_instrument_is_immutable() -> None:
    with pytest.raises(AttributeError):
        CENTS.price_increment = 0.05  # type: ignore[misc]
