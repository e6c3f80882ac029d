"""What the event buses raise."""

from __future__ import annotations


class BusError(Exception):
    """Base of every error an event bus adapter raises."""


class BusUnavailableError(BusError):
    """The bus server cannot be reached, or lacks a feature the adapter needs."""


class BusClosedError(BusError):
    """The bus, or the subscription, was used after ``close()``."""


class NoResponderError(BusError, LookupError):
    """A request went to a subject that nobody serves."""


class RequestError(BusError):
    """The responder of a request failed; ``reason`` is its error, as text.

    Parameters
    ----------
    subject
        The subject the request went to.
    reason
        The responder's exception, as ``"TypeName: message"``.
    """

    def __init__(self, subject: str, reason: str) -> None:
        super().__init__(f"the responder on {subject!r} failed: {reason}")
        self.subject = subject
        self.reason = reason


class UnknownMessageTypeError(LookupError):
    """A message type that is not registered was sent or received.

    Notes
    -----
    Both sides of a bus, or every user of a cache, must register the same message types
    under the same names; see ``register_message_type``.
    """


class MessageDecodeError(ValueError):
    """Bytes that are not a message this codec wrote, or that do not fit their type."""
