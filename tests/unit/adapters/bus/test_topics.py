"""Topic, pattern and durable-name checks; stream coverage of topics and patterns."""

from __future__ import annotations

import pytest

from quantgrid.adapters.bus._jetstream import redact_url
from quantgrid.adapters.bus._topics import (
    check_durable_name,
    check_pattern,
    check_topic,
    covered_by,
)


@pytest.mark.parametrize("topic", ["events", "events.order.filled", "md.quote.AAPL-USD"])
def test_concrete_topics_pass(topic: str) -> None:
    check_topic(topic)


@pytest.mark.parametrize("pattern", ["events.>", "events.*.filled", "*", ">", "a.b"])
def test_wellformed_patterns_pass(pattern: str) -> None:
    check_pattern(pattern)


def test_a_durable_name_is_a_plain_token() -> None:
    check_durable_name("risk-service_1")
    with pytest.raises(ValueError, match="durable name"):
        check_durable_name("risk.service")


@pytest.mark.parametrize(
    ("subjects", "topic", "covered"),
    [
        (("events.>",), "events.order.filled", True),
        (("events.>",), "events", False),
        (("events.>",), "md.quote", False),
        (("events.>",), "events.order.*", True),
        (("events.>",), "events.>", True),
        (("events.*",), "events.>", False),  # a '>' reaches deeper than one '*'
        (("events.*",), "events.x", True),
        (("events.*.filled",), "events.>", False),
        (("events.>", "md.>"), "md.quote.AAPL", True),
    ],
)
def test_coverage_of_topics_and_patterns(
    subjects: tuple[str, ...], topic: str, covered: bool
) -> None:
    assert covered_by(subjects, topic) is covered


def test_passwords_are_kept_out_of_error_messages() -> None:
    assert redact_url("nats://svc:s3cret@10.0.0.5:4222") == "nats://svc:***@10.0.0.5:4222"
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
