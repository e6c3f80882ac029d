"""Checks on topic names, patterns and durable names, shared by every bus adapter.

Matching itself is the core bus's ``topic_matches``: the syntax is the same in process and
on NATS, where a topic is a subject one to one.
"""

from __future__ import annotations

from collections.abc import Iterable

from quantgrid.core import topic_matches

_FORBIDDEN = frozenset(" \t\r\n")
_DURABLE_FORBIDDEN = frozenset(" \t\r\n.*>/\\")


def _tokens(text: str, what: str) -> list[str]:
    if not isinstance(text, str) or not text:
        msg = f"a {what} must be a non-empty string, not {text!r}"
        raise ValueError(msg)
    if _FORBIDDEN.intersection(text):
        msg = f"a {what} may not contain whitespace: {text!r}"
        raise ValueError(msg)
    tokens = text.split(".")
    if "" in tokens:
        msg = f"a {what} is dot-separated non-empty tokens: {text!r}"
        raise ValueError(msg)
    return tokens


def check_topic(topic: str) -> None:
    """Refuse a topic that is not a concrete subject (``events.order.filled``)."""
    for token in _tokens(topic, "topic"):
        if "*" in token or ">" in token:
            msg = f"a topic to publish on may not contain wildcards: {topic!r}"
            raise ValueError(msg)


def check_pattern(pattern: str) -> None:
    """Refuse a pattern whose wildcards are not whole tokens, or ``>`` not last."""
    tokens = _tokens(pattern, "pattern")
    for i, token in enumerate(tokens):
        if token == ">" and i != len(tokens) - 1:
            msg = f"'>' may only be the last token of a pattern: {pattern!r}"
            raise ValueError(msg)
        if token not in ("*", ">") and ("*" in token or ">" in token):
            msg = f"a wildcard must be a whole token of the pattern: {pattern!r}"
            raise ValueError(msg)


def check_durable_name(name: str) -> None:
    """Refuse a durable name NATS would not accept as a consumer name."""
    if not isinstance(name, str) or not name or _DURABLE_FORBIDDEN.intersection(name):
        msg = f"a durable name is a non-empty string without dots, wildcards or spaces: {name!r}"
        raise ValueError(msg)


def covered_by(subjects: Iterable[str], topic: str) -> bool:
    """Tell whether ``topic``, or every topic a pattern can match, falls in ``subjects``."""
    open_ended = topic.endswith(">")
    return any(
        topic_matches(subject, topic) and not (open_ended and ">" not in subject.split("."))
        for subject in subjects
    )
