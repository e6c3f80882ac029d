"""The message bus: endpoints, topic patterns, handler order and the resolved cache."""

from __future__ import annotations

import pytest

from quantgrid.core import Handler, MessageBus, topic_matches


def _recorder(log: list[tuple[str, object]], name: str) -> Handler:
    def handler(message: object) -> None:
        log.append((name, message))

    return handler


# -- endpoints ------------------------------------------------------------------------
def test_send_delivers_command_to_the_registered_endpoint() -> None:
    bus = MessageBus()
    received: list[object] = []
    bus.register("venue.SIM.execute", received.append)

    bus.send("venue.SIM.execute", "cmd-1")

    assert received == ["cmd-1"]


def test_register_same_endpoint_twice_raises_and_keeps_first_handler() -> None:
    bus = MessageBus()
    first: list[object] = []
    second: list[object] = []
    bus.register("ep", first.append)

    with pytest.raises(ValueError, match="endpoint 'ep' is already registered"):
        bus.register("ep", second.append)

    bus.send("ep", 1)
    assert first == [1]
    assert second == []


def test_send_to_unknown_endpoint_raises_lookup_error() -> None:
    bus = MessageBus()

    with pytest.raises(LookupError, match="no handler registered at endpoint 'nowhere'"):
        bus.send("nowhere", object())


def test_deregister_removes_the_endpoint_and_allows_registering_again() -> None:
    bus = MessageBus()
    bus.register("b", print)
    bus.register("a", print)
    assert bus.endpoints == ("a", "b")

    bus.deregister("a")

    assert bus.endpoints == ("b",)
    with pytest.raises(LookupError):
        bus.send("a", None)
    received: list[object] = []
    bus.register("a", received.append)
    bus.send("a", 7)
    assert received == [7]


# -- topic patterns --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("events.order.filled", "events.order.filled", True),
        ("events.order.filled", "events.order.canceled", False),
        ("events.order", "events.order.filled", False),
        ("events.order.filled", "events.order", False),
        # `*` is exactly one segment.
        ("events.*.filled", "events.order.filled", True),
        ("events.*.filled", "events.order.x.filled", False),
        ("events.*", "events.order.filled", False),
        ("events.*", "events", False),
        ("*.*.*", "a.b.c", True),
        ("*", "a.b", False),
        # Trailing `>` is one or more segments.
        ("events.>", "events.order", True),
        ("events.>", "events.order.filled", True),
        ("events.>", "events", False),
        ("data.bars.>", "data.bars.AAPL", True),
        ("data.bars.>", "data.quotes.AAPL", False),
        (">", "anything.at.all", True),
        ("*.order.>", "events.order.filled", True),
        ("*.order.>", "events.order", False),
        # `>` only counts at the end.
        ("events.>.filled", "events.order.filled", False),
    ],
)
def test_topic_matches(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


def test_publish_reaches_exact_wildcard_and_tail_subscribers_only() -> None:
    bus = MessageBus()
    log: list[tuple[str, object]] = []
    bus.subscribe("events.order.filled", _recorder(log, "exact"))
    bus.subscribe("events.*.filled", _recorder(log, "star"))
    bus.subscribe("events.>", _recorder(log, "tail"))
    bus.subscribe("events.position.changed", _recorder(log, "other"))

    bus.publish("events.order.filled", "m")

    assert log == [("exact", "m"), ("star", "m"), ("tail", "m")]


def test_publish_with_no_subscriber_does_nothing() -> None:
    bus = MessageBus()

    bus.publish("events.nobody", 1)

    assert bus.handlers_for("events.nobody") == ()


# -- handler order ---------------------------------------------------------------------
def test_handlers_run_by_descending_priority_then_subscription_order() -> None:
    bus = MessageBus()
    log: list[tuple[str, object]] = []
    bus.subscribe("data.bars.X", _recorder(log, "strategy-a"))
    bus.subscribe("data.bars.>", _recorder(log, "venue"), priority=100)
    bus.subscribe("data.bars.*", _recorder(log, "strategy-b"))
    bus.subscribe("data.>", _recorder(log, "portfolio"), priority=50)
    bus.subscribe("data.bars.X", _recorder(log, "risk"), priority=100)
    bus.subscribe("data.bars.X", _recorder(log, "late"), priority=-1)

    bus.publish("data.bars.X", "bar")

    assert [name for name, _ in log] == [
        "venue",
        "risk",
        "portfolio",
        "strategy-a",
        "strategy-b",
        "late",
    ]


def test_unsubscribe_removes_only_that_pattern_and_handler() -> None:
    bus = MessageBus()
    log: list[tuple[str, object]] = []
    a = _recorder(log, "a")
    b = _recorder(log, "b")
    bus.subscribe("t.x", a)
    bus.subscribe("t.>", a)
    bus.subscribe("t.x", b)
    bus.publish("t.x", 1)  # resolves and caches the handler list

    bus.unsubscribe("t.x", a)
    bus.publish("t.x", 2)

    assert log == [("a", 1), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]


def test_unsubscribe_of_unknown_subscription_changes_nothing() -> None:
    bus = MessageBus()
    log: list[tuple[str, object]] = []
    a = _recorder(log, "a")
    bus.subscribe("t", a)

    bus.unsubscribe("t", _recorder(log, "never-subscribed"))
    bus.unsubscribe("other", a)
    bus.publish("t", 1)

    assert log == [("a", 1)]


def test_subscribing_after_a_publish_invalidates_the_cached_handlers() -> None:
    bus = MessageBus()
    log: list[tuple[str, object]] = []
    bus.subscribe("events.order.filled", _recorder(log, "first"))
    bus.publish("events.order.filled", 1)
    assert len(bus.handlers_for("events.order.filled")) == 1

    bus.subscribe("events.order.*", _recorder(log, "second"), priority=5)
    bus.publish("events.order.filled", 2)

    assert log == [("first", 1), ("second", 2), ("first", 2)]
    assert len(bus.handlers_for("events.order.filled")) == 2


def test_handlers_for_returns_call_order() -> None:
    bus = MessageBus()
    calls: list[str] = []

    def low(_: object) -> None:
        calls.append("low")

    def high(_: object) -> None:
        calls.append("high")

    bus.subscribe("a.b", low)
    bus.subscribe("a.*", high, priority=1)

    assert bus.handlers_for("a.b") == (high, low)
    assert bus.handlers_for("a.c") == (high,)
