"""Paper trading in ``quantgrid up``: demo strategies on a replay, resumed after a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from quantgrid.adapters.market_data import BinanceRestSource, InMemorySource, Timeframe
from quantgrid.adapters.registry import InMemoryModelRegistry, ModelRegistry
from quantgrid.core import TestClock
from quantgrid.data import SyntheticConfig, generate_market
from quantgrid.model import BarSeries, OrderStatus
from quantgrid.runtime import ConfigError, Runtime, RuntimeConfig, build_platform, open_store
from quantgrid.runtime._paper import (
    CHECKPOINT,
    DEMO_ML,
    DEMO_MODEL,
    DEMO_REGIME,
    AsOfClock,
    PaperTrading,
)
from quantgrid.services.strategy import StrategyConfig, StrategyStartError

pytestmark = pytest.mark.anyio

#: Bars of the small market: the first START are the demo model's training data.
BARS = 1_600
START = 800
#: Long enough to wait for a replay of a few hundred moments on a slow machine.
WAIT_S = 120.0


@pytest.fixture(scope="module")
def market() -> dict[str, BarSeries]:
    config = SyntheticConfig(instruments=("SYN0", "SYN1"), bars=BARS)
    return dict(generate_market(config, 7).bars)


def _cut(market: Mapping[str, BarSeries], bars: int) -> InMemorySource:
    return InMemorySource({k: v.slice(0, bars) for k, v in market.items()}, half_spread=0.01)


def _config(
    tmp_path: Path,
    source: InMemorySource,
    registry: ModelRegistry,
    *,
    db: str = "paper.db",
    **env: str,
) -> RuntimeConfig:
    environ = {
        "QUANTGRID_BACKTEST_RESULTS_DIR": str(tmp_path / "results"),
        "QUANTGRID_PAPER_MODE": "replay",
        "QUANTGRID_PAPER_SPEED": "1000000",
        "QUANTGRID_PAPER_START_BAR": str(START),
        "QUANTGRID_PAPER_WARMUP_BARS": "300",
        # The demo model must pass the deployment floor on this small market.
        "QUANTGRID_ML_MIN_AUC": "0.5",
        "QUANTGRID_ML_MIN_ACCURACY_MARGIN": "0",
        **env,
    }
    return RuntimeConfig.from_env(
        "one-process",
        environ,
        database_url=f"sqlite:///{tmp_path / db}",
        jwt_secret=secrets.token_urlsafe(48),
        source=source,
        registry=registry,
    )


def _all(listing: Callable[..., Any], **query: Any) -> list[Any]:
    """Return every item of a paged store listing."""
    items: list[Any] = []
    after = None
    while True:
        page = listing(limit=1000, after=after, **query)
        items.extend(page.items)
        after = page.next_cursor
        if after is None:
            return items


async def _until_finished(paper: PaperTrading) -> None:
    async def wait() -> None:
        while paper.status().state not in {"finished", "failed"}:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), WAIT_S)
    assert paper.status().state == "finished", paper.status().error


def _trained_registry(tmp_path: Path, market: Mapping[str, BarSeries]) -> ModelRegistry:
    """Return a registry holding the demo model in production, as a first start leaves it."""
    registry = InMemoryModelRegistry()
    runtime = build_platform(_config(tmp_path, _cut(market, BARS), registry, db="train.db"))
    assert runtime.paper is not None
    runtime.paper._demo_model()
    runtime.store.close()
    return registry


async def _run(runtime: Runtime) -> tuple[list[tuple[str, str, str, float | None]], list[str]]:
    """Play the runtime's replay to its end; return its orders and fills."""
    async with runtime.running():
        paper = runtime.paper
        assert paper is not None
        await _until_finished(paper)
        assert paper.host.refused_orders == 0
    store = runtime.store
    orders = _all(store.list_orders)
    fills = _all(store.list_fills)
    return (
        [
            (o.order.client_order_id, o.order.instrument_id, o.order.side.value, o.order.quantity)
            for o in orders
        ],
        [f.trade_id.rsplit("-", 1)[-1] + f.client_order_id for f in fills],
    )


async def test_the_demo_strategies_trade_the_replay_and_the_checkpoint_follows(
    tmp_path: Path, market: dict[str, BarSeries]
) -> None:
    registry = _trained_registry(tmp_path, market)
    runtime = build_platform(_config(tmp_path, _cut(market, BARS), registry))
    async with runtime.running():
        paper = runtime.paper
        assert paper is not None
        assert runtime.feed is None  # the replay feeds the node, not the quote feed
        assert await paper.running_strategies() == {DEMO_REGIME, DEMO_ML}
        await _until_finished(paper)
        status = paper.status()
        assert status.played == BARS - START
        assert status.last_ts == int(market["SYN0"].ts[-1])
        node = runtime.node
        assert node is not None
        assert node.clock.timestamp_ns() == status.last_ts  # the node runs on data time
        signals = await paper.recent_signals(DEMO_REGIME, 5)
        assert signals and signals[0].ts_event >= signals[-1].ts_event
    store = runtime.store
    checkpoint = store.get_checkpoint(CHECKPOINT)
    assert checkpoint is not None
    assert checkpoint.value == {"last_ts": status.last_ts, "running": [DEMO_ML, DEMO_REGIME]}
    orders = _all(store.list_orders)
    by_strategy = {o.order.strategy_id for o in orders}
    assert by_strategy == {DEMO_REGIME, DEMO_ML}
    # Every order was decided on a replayed bar, none on the warm-up before START.
    first_traded = int(market["SYN0"].ts[START])
    assert min(o.order.ts_init for o in orders) >= first_traded
    assert store.list_fills(limit=1).items
    predictions = _all(store.list_predictions)
    assert {p.prediction.model_name for p in predictions} == {DEMO_MODEL}
    assert min(p.prediction.ts_event for p in predictions) >= first_traded
    assert any(o.status is OrderStatus.FILLED for o in orders)


async def test_a_restart_resumes_at_the_checkpoint_as_if_never_stopped(
    tmp_path: Path, market: dict[str, BarSeries]
) -> None:
    """A run stopped at bar 1,200 then restarted on the full data equals one run."""
    registry = _trained_registry(tmp_path, market)
    whole = await _run(build_platform(_config(tmp_path, _cut(market, BARS), registry, db="a.db")))
    first = build_platform(_config(tmp_path, _cut(market, 1_200), registry, db="b.db"))
    await _run(first)
    second = build_platform(_config(tmp_path, _cut(market, BARS), registry, db="b.db"))
    assert second.node is not None
    # The node's clock starts at the checkpoint, not at the start bar.
    assert second.node.clock.timestamp_ns() == int(market["SYN0"].ts[1_199])
    async with second.running():
        paper = second.paper
        assert paper is not None
        assert await paper.running_strategies() == {DEMO_REGIME, DEMO_ML}
        await _until_finished(paper)
        assert paper.status().played == BARS - 1_200
        assert paper.host.refused_orders == 0
    resumed = second.store
    orders = [
        (o.order.client_order_id, o.order.instrument_id, o.order.side.value, o.order.quantity)
        for o in _all(resumed.list_orders)
    ]
    assert orders == whole[0]
    assert len(whole[0]) > 10


async def test_a_strategy_starts_and_stops_between_moments(
    tmp_path: Path, market: dict[str, BarSeries]
) -> None:
    """The strategy service's port: started mid-replay, stopped with its orders cancelled."""
    slow = {"QUANTGRID_PAPER_SPEED": "30000", "QUANTGRID_PAPER_DEMO": "false"}
    runtime = build_platform(_config(tmp_path, _cut(market, BARS), InMemoryModelRegistry(), **slow))
    now = 0
    config = StrategyConfig("mine", "sma_cross", {"fast": 5, "slow": 20}, ("SYN0",), None, now, "t")
    async with runtime.running():
        paper = runtime.paper
        assert paper is not None
        assert await paper.running_strategies() == frozenset()
        assert await paper.start_strategy(config)
        assert not await paper.start_strategy(config)  # already running
        no_model = StrategyConfig("ml-x", "ml", {"model_name": "nope"}, ("SYN0",), None, now, "t")
        with pytest.raises(StrategyStartError, match=r"ml-x \(ml\) not started: .*nope"):
            await paper.start_strategy(no_model)
        assert await paper.running_strategies() == {"mine"}
        store = runtime.store

        async def some_orders() -> None:
            while len(store.list_orders(strategy_id="mine", limit=10).items) < 4:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(some_orders(), WAIT_S)
        assert await paper.stop_strategy("mine")
        assert not await paper.stop_strategy("mine")
        stopped_at = len(_all(store.list_orders, strategy_id="mine"))
        node = runtime.node
        assert node is not None
        working = [o for o in node.execution.orders if o.strategy_id == "mine" and o.is_open]
        assert working == []
        await _until_finished(paper)
        # Nothing decided after the stop: its bars reach the strategy no more.
        assert len(_all(store.list_orders, strategy_id="mine")) == stopped_at
        checkpoint = store.get_checkpoint(CHECKPOINT)
        assert checkpoint is not None and checkpoint.value["running"] == []


def test_paper_trading_is_off_unless_asked(tmp_path: Path, market: dict[str, BarSeries]) -> None:
    config = _config(tmp_path, _cut(market, BARS), InMemoryModelRegistry()).with_paper(False)
    runtime = build_platform(config)
    try:
        assert runtime.paper is None
        assert runtime.feed is not None  # quotes feed the node's order book instead
    finally:
        runtime.store.close()
    with pytest.raises(ConfigError, match="speed"):
        config.with_paper(True, speed=0)


async def test_a_checkpoint_behind_the_stored_orders_resumes_after_them(
    tmp_path: Path, market: dict[str, BarSeries]
) -> None:
    """Died after a moment's orders were stored, before its checkpoint: not decided twice."""
    registry = _trained_registry(tmp_path, market)
    whole = await _run(build_platform(_config(tmp_path, _cut(market, BARS), registry, db="a.db")))
    first = build_platform(_config(tmp_path, _cut(market, 1_200), registry, db="b.db"))
    await _run(first)
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        last_order = max(o.order.ts_init for o in _all(store.list_orders))
        checkpoint = store.get_checkpoint(CHECKPOINT)
        assert checkpoint is not None
        # As if the process had died before the checkpoints of the last order's moment
        # and every moment since.
        lagging = dict(checkpoint.value) | {"last_ts": last_order - 5 * 60 * 10**9}
        store.save_checkpoint(CHECKPOINT, lagging, checkpoint.ts_ns)
    finally:
        store.close()
    second = build_platform(_config(tmp_path, _cut(market, BARS), registry, db="b.db"))
    assert second.node is not None
    assert second.node.clock.timestamp_ns() == last_order
    resumed = await _run(second)
    assert resumed[0] == whole[0]


async def test_starts_are_taken_between_bars_at_once_refused_after_the_end(
    tmp_path: Path, market: dict[str, BarSeries]
) -> None:
    """A start waits for the current moment only, not for the next bar; a caller that
    gives up does not stop the replay; after the last bar, a start is refused."""
    # A bar every 10,000 s of wall time: a start that waited for the next bar would hang.
    slow = {"QUANTGRID_PAPER_SPEED": "0.006", "QUANTGRID_PAPER_DEMO": "false"}
    runtime = build_platform(_config(tmp_path, _cut(market, BARS), InMemoryModelRegistry(), **slow))
    config = StrategyConfig("mine", "sma_cross", {"fast": 5, "slow": 20}, ("SYN0",), None, 0, "t")
    async with runtime.running():
        paper = runtime.paper
        assert paper is not None
        # WAIT_S only guards against a hang; the start comes back between two bars.
        assert await asyncio.wait_for(paper.start_strategy(config), WAIT_S)
        checkpoint = runtime.store.get_checkpoint(CHECKPOINT)
        assert checkpoint is not None and checkpoint.value["running"] == ["mine"]
        # A caller that gives up on its turn leaves the replay playing.
        for _ in range(3):
            gave_up = asyncio.create_task(paper.stop_strategy("mine"))
            await asyncio.sleep(0)
            gave_up.cancel()
            await asyncio.sleep(0.05)
            assert paper.status().state == "playing"
            if "mine" in await paper.running_strategies():
                assert await asyncio.wait_for(paper.start_strategy(config), WAIT_S) is False
        assert await asyncio.wait_for(paper.stop_strategy("mine"), WAIT_S) in {True, False}
        assert await paper.running_strategies() == frozenset()
        assert paper.status().state == "playing"

    fast = {"QUANTGRID_PAPER_DEMO": "false"}
    runtime = build_platform(
        _config(tmp_path, _cut(market, BARS), InMemoryModelRegistry(), db="end.db", **fast)
    )
    async with runtime.running():
        paper = runtime.paper
        assert paper is not None
        await _until_finished(paper)
        with pytest.raises(StrategyStartError, match="the market replay has finished"):
            await paper.start_strategy(config)


async def test_the_services_see_the_market_up_to_the_replays_clock(
    market: dict[str, BarSeries],
) -> None:
    source = _cut(market, BARS)
    clock = TestClock(int(market["SYN0"].ts[START]))
    seen = AsOfClock(source, clock)
    whole = market["SYN0"]
    price = await seen.latest_price("SYN0")
    assert price.price == whole.close[START]
    bars = await seen.ohlcv("SYN0", int(whole.ts[0]), int(whole.ts[-1]), Timeframe.M1)
    assert int(bars.ts[-1]) == int(whole.ts[START])  # asked to the end, given to the clock
    clock.advance_to(int(whole.ts[START + 10]))
    assert (await seen.latest_price("SYN0")).price == whole.close[START + 10]
    assert len(seen.bars("SYN0")) == BARS  # the replay still walks every bar


def test_a_replay_needs_an_upstream_that_holds_bars(tmp_path: Path) -> None:
    remote = BinanceRestSource("http://127.0.0.1:9", symbols=["SYN0"])
    config = _config(tmp_path, InMemorySource({}), InMemoryModelRegistry())
    with pytest.raises(ConfigError, match="QUANTGRID_PAPER_MODE=replay plays stored bars"):
        build_platform(dataclasses.replace(config, source=remote))
