"""The trading domain: instruments, market data, orders, events, positions, accounts."""

from quantgrid.model._amend import check_amend
from quantgrid.model._book import InvalidMarketDataError, OrderBookDepth
from quantgrid.model._commands import (
    CancelAllOrders,
    CancelOrder,
    ModifyOrder,
    SubmitOrder,
    SubmitOrderList,
)
from quantgrid.model._data import Bar, BarSeries, FloatArray, IntArray, QuoteTick, TradeTick
from quantgrid.model._enums import (
    ContingencyType,
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
    OrderCancelRejected,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderPendingCancel,
    OrderPendingUpdate,
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
    "ContingencyType",
    "FloatArray",
    "Instrument",
    "IntArray",
    "InvalidMarketDataError",
    "InvalidOrderError",
    "InvalidStateTransitionError",
    "LiquiditySide",
    "ModifyOrder",
    "Order",
    "OrderAccepted",
    "OrderBookDepth",
    "OrderCancelRejected",
    "OrderCanceled",
    "OrderDenied",
    "OrderEvent",
    "OrderExpired",
    "OrderFilled",
    "OrderModifyRejected",
    "OrderPendingCancel",
    "OrderPendingUpdate",
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
    "SubmitOrderList",
    "TimeInForce",
    "TradeTick",
    "check_amend",
]
