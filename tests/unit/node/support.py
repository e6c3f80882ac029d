"""Building nodes for tests: a test clock, an in-memory store and the in-process bus."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quantgrid.adapters.bus import InProcessEventBus
from quantgrid.adapters.storage import InMemoryStore, Store
from quantgrid.core import TestClock
from quantgrid.model import Instrument, OrderSide, OrderType, QuoteTick, TradeTick
from quantgrid.node import NodeConfig, OrderRequest, TradingNode

START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
MS = 1_000_000
INSTRUMENTS = (Instrument("AAPL"), Instrument("MSFT"))


def make_config(**overrides: Any) -> NodeConfig:
    """Return a node config over AAPL and MSFT with 100,000 of capital."""
    values: dict[str, Any] = {"instruments": INSTRUMENTS, "initial_cash": 100_000.0}
    values.update(overrides)
    return NodeConfig(**values)


def limit_buy(oid: str, quantity: float = 10, price: float = 99.5, **kw: Any) -> OrderRequest:
    """Return a GTC limit buy of AAPL."""
    return OrderRequest(oid, "AAPL", OrderSide.BUY, OrderType.LIMIT, quantity, price=price, **kw)


def market(
    oid: str, side: OrderSide = OrderSide.BUY, quantity: float = 5, **kw: Any
) -> OrderRequest:
    """Return a market order of AAPL."""
    return OrderRequest(oid, "AAPL", side, OrderType.MARKET, quantity, **kw)


def quote(
    clock: TestClock,
    bid: float = 100.0,
    ask: float = 100.02,
    size: float = 500.0,
    instrument_id: str = "AAPL",
) -> QuoteTick:
    """Return a quote 1 ms after the clock's time."""
    return QuoteTick(instrument_id, clock.timestamp_ns() + MS, bid, ask, size, size)


def trade(clock: TestClock, price: float, size: float, instrument_id: str = "AAPL") -> TradeTick:
    """Return a print 1 ms after the clock's time."""
    return TradeTick(instrument_id, clock.timestamp_ns() + MS, price, size)


@asynccontextmanager
async def running_node(
    store: Store | None = None,
    *,
    bus: InProcessEventBus | None = None,
    clock: TestClock | None = None,
    session_id: str = "s1",
    **config: Any,
) -> AsyncIterator[TradingNode]:
    """Start a node on a test clock (in-memory store and bus unless given); stop it after."""
    node = TradingNode(
        make_config(**config),
        store=store if store is not None else InMemoryStore(),
        bus=bus if bus is not None else InProcessEventBus(),
        clock=clock if clock is not None else TestClock(START_NS),
        session_id=session_id,
    )
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


class RecordingStore(InMemoryStore):
    """An in-memory store that records each write, and what the node had done by then.

    ``calls`` holds ``(method, key, engine_knew_it)``: whether the execution engine
    already held the order when the store was asked to keep it. ``gate``, when
    cleared, holds every ``save_order`` until it is set (bounded by ``gate_timeout_s``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.node: TradingNode | None = None
        self.calls: list[tuple[str, str, bool]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.gate_timeout_s = 5.0
        self.fail_saves: Exception | None = None

    def _knew(self, oid: str) -> bool:
        return self.node is not None and self.node.execution.order(oid) is not None

    def save_order(self, order: Any) -> bool:
        if not self.gate.wait(self.gate_timeout_s):
            raise TimeoutError("the test never opened the gate")
        if self.fail_saves is not None:
            raise self.fail_saves
        self.calls.append(("save_order", order.client_order_id, self._knew(order.client_order_id)))
        return super().save_order(order)

    def append_order_event(self, event: Any, status: Any) -> bool:
        self.calls.append((type(event).__name__, event.client_order_id, True))
        return super().append_order_event(event, status)
