"""The trading domain: instruments, market data, orders, events, positions, accounts."""

from quantgrid.model._commands import CancelAllOrders, CancelOrder, SubmitOrder
from quantgrid.model._data import Bar, BarSeries, FloatArray, IntArray, QuoteTick, TradeTick
from quantgrid.model._enums import (
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    Regime,
    TimeInForce,
)
from quantgrid.model._events import (
    OrderAccepted,
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
    PositionChanged,
)
from quantgrid.model._instrument import Instrument
from quantgrid.model._orders import InvalidOrderError, InvalidStateTransitionError, Order
from quantgrid.model._position import Account, ClosedTrade, Position

__all__ = [
    "Account",
    "Bar",
    "BarSeries",
    "CancelAllOrders",
    "CancelOrder",
    "ClosedTrade",
    "FloatArray",
    "Instrument",
    "IntArray",
    "InvalidOrderError",
    "InvalidStateTransitionError",
    "LiquiditySide",
    "Order",
    "OrderAccepted",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderPendingCancel",
    "OrderRejected",
    "OrderSide",
    "OrderStatus",
    "OrderSubmitted",
    "OrderTriggered",
    "OrderType",
    "OrderUpdated",
    "Position",
    "PositionChanged",
    "QuoteTick",
    "Regime",
    "SubmitOrder",
    "TimeInForce",
    "TradeTick",
]
