"""The simulated venue's fill models: exact arithmetic and parameter validation."""

from __future__ import annotations

import math

import pytest

from quantgrid.model import Instrument, LiquiditySide
from quantgrid.venues import (
    BpsSlippage,
    BpsSpread,
    FixedSpread,
    MakerTakerCommission,
    NoCommission,
    PercentCommission,
    PerUnitCommission,
    TickSlippage,
    VolumeShareSlippage,
)

STOCK = Instrument("AAPL")
FUTURE = Instrument("ES", price_increment=0.25, multiplier=50.0)
MAKER, TAKER = LiquiditySide.MAKER, LiquiditySide.TAKER


# -- commissions -------------------------------------------------------------------------
def test_no_commission_is_zero() -> None:
    assert NoCommission().commission(STOCK, 100, 50.0, TAKER) == 0.0


def test_percent_commission_is_rate_of_traded_value() -> None:
    model = PercentCommission(0.001)

    assert model.commission(STOCK, 100, 50.0, TAKER) == pytest.approx(5.0)
    assert model.commission(STOCK, 100, 50.0, MAKER) == pytest.approx(5.0)
    assert model.commission(FUTURE, 2, 4500.0, TAKER) == pytest.approx(0.001 * 2 * 4500 * 50)


def test_percent_commission_has_a_minimum() -> None:
    model = PercentCommission(0.001, minimum=1.0)

    assert model.commission(STOCK, 10, 50.0, TAKER) == 1.0  # 0.5 raised to the minimum
    assert model.commission(STOCK, 100, 50.0, TAKER) == pytest.approx(5.0)


@pytest.mark.parametrize("rate", [-0.001, 1.0, 1.5, math.nan, math.inf])
def test_percent_commission_rate_must_be_in_zero_one(rate: float) -> None:
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        PercentCommission(rate)


def test_percent_commission_minimum_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="minimum must be >= 0, got -1"):
        PercentCommission(0.001, minimum=-1.0)


def test_per_unit_commission() -> None:
    model = PerUnitCommission(0.005, minimum=1.0)

    assert model.commission(STOCK, 1000, 50.0, TAKER) == pytest.approx(5.0)
    assert model.commission(STOCK, 100, 50.0, TAKER) == 1.0  # 0.5 raised to the minimum
    assert PerUnitCommission(0.005).commission(STOCK, 100, 50.0, MAKER) == pytest.approx(0.5)


def test_per_unit_commission_validation() -> None:
    with pytest.raises(ValueError, match=r"per_unit must be >= 0, got -0\.01"):
        PerUnitCommission(-0.01)
    with pytest.raises(ValueError, match="minimum must be >= 0, got -2"):
        PerUnitCommission(0.01, minimum=-2.0)


def test_maker_taker_commission_depends_on_liquidity_side() -> None:
    model = MakerTakerCommission(maker_rate=-0.0002, taker_rate=0.0007)

    assert model.commission(STOCK, 100, 50.0, MAKER) == pytest.approx(-1.0)  # a rebate
    assert model.commission(STOCK, 100, 50.0, TAKER) == pytest.approx(3.5)
    assert model.commission(FUTURE, 1, 4000.0, TAKER) == pytest.approx(0.0007 * 4000 * 50)


@pytest.mark.parametrize("maker", [-0.01, -0.02, 1.0])
def test_maker_rate_bounds(maker: float) -> None:
    with pytest.raises(ValueError, match=r"maker_rate must be in \(-0.01, 1\)"):
        MakerTakerCommission(maker_rate=maker, taker_rate=0.001)


@pytest.mark.parametrize("taker", [-0.0001, 1.0])
def test_taker_rate_bounds(taker: float) -> None:
    with pytest.raises(ValueError, match=r"taker_rate must be in \[0, 1\)"):
        MakerTakerCommission(maker_rate=0.0, taker_rate=taker)


# -- spreads -----------------------------------------------------------------------------
def test_fixed_spread_gives_half_the_spread() -> None:
    assert FixedSpread(0.02).half_spread(STOCK, 100.0) == 0.01
    assert FixedSpread(0.0).half_spread(STOCK, 100.0) == 0.0


@pytest.mark.parametrize("spread", [-0.01, math.nan, math.inf])
def test_fixed_spread_validation(spread: float) -> None:
    with pytest.raises(ValueError, match="spread must be >= 0"):
        FixedSpread(spread)


def test_bps_spread_is_half_of_bps_of_price() -> None:
    # 10 bps of 200 is 0.20, half of it 0.10.
    assert BpsSpread(10).half_spread(STOCK, 200.0) == pytest.approx(0.10)


@pytest.mark.parametrize("bps", [-1.0, 10_000.0])
def test_bps_spread_validation(bps: float) -> None:
    with pytest.raises(ValueError, match=r"bps must be in \[0, 10000\)"):
        BpsSpread(bps)


# -- slippage ----------------------------------------------------------------------------
def test_bps_slippage_is_bps_of_price() -> None:
    assert BpsSlippage(5).slippage(STOCK, 200.0, 10, 1_000) == pytest.approx(0.10)


@pytest.mark.parametrize("bps", [-0.5, 10_000.0])
def test_bps_slippage_validation(bps: float) -> None:
    with pytest.raises(ValueError, match=r"bps must be in \[0, 10000\)"):
        BpsSlippage(bps)


def test_tick_slippage_is_whole_ticks() -> None:
    assert TickSlippage().slippage(STOCK, 100.0, 1, 1) == 0.01
    assert TickSlippage(3).slippage(FUTURE, 4500.0, 1, 1) == 0.75


def test_tick_slippage_validation() -> None:
    with pytest.raises(ValueError, match="ticks must be >= 0, got -1"):
        TickSlippage(-1)


def test_volume_share_slippage_follows_the_square_root_law() -> None:
    model = VolumeShareSlippage(impact=0.1, max_bps=100.0)

    # 0.1 * 100 * sqrt(1 / 10_000) = 0.1; the cap is 1% of 100 = 1.0.
    assert model.slippage(STOCK, 100.0, 1, 10_000) == pytest.approx(0.1)
    # 0.1 * 100 * sqrt(4 / 10_000) = 0.2
    assert model.slippage(STOCK, 100.0, 4, 10_000) == pytest.approx(0.2)
    # 0.1 * 100 * sqrt(25 / 10_000) = 0.5
    assert model.slippage(STOCK, 100.0, 25, 10_000) == pytest.approx(0.5)


def test_volume_share_slippage_is_capped_at_max_bps() -> None:
    model = VolumeShareSlippage(impact=0.1, max_bps=50.0)

    # Uncapped would be 0.1 * 100 * sqrt(1) = 10; the cap is 0.5% of 100.
    assert model.slippage(STOCK, 100.0, 10_000, 10_000) == pytest.approx(0.5)


@pytest.mark.parametrize("volume", [0.0, -5.0])
def test_volume_share_slippage_without_volume_is_the_cap(volume: float) -> None:
    assert VolumeShareSlippage(impact=0.1, max_bps=100.0).slippage(
        STOCK, 80.0, 10, volume
    ) == pytest.approx(0.8)


def test_volume_share_slippage_validation() -> None:
    with pytest.raises(ValueError, match=r"impact must be >= 0, got -0\.1"):
        VolumeShareSlippage(impact=-0.1)
    with pytest.raises(ValueError, match="max_bps must be >= 0, got -1"):
        VolumeShareSlippage(max_bps=-1.0)
