"""The event bus between services: in-process by default, NATS JetStream when configured.

``EventBus`` is the port; ``InProcessEventBus`` and ``NatsEventBus`` implement it with the
same topic syntax as the core ``MessageBus`` and the same wire format (``MessageRegistry``).
"""

from quantgrid.adapters.bus._codec import (
    DEFAULT_REGISTRY,
    MessageRegistry,
    register_message_type,
)
from quantgrid.adapters.bus._errors import (
    BusClosedError,
    BusError,
    BusUnavailableError,
    MessageDecodeError,
    NoResponderError,
    RequestError,
    UnknownMessageTypeError,
)
from quantgrid.adapters.bus._in_process import InProcessEventBus
from quantgrid.adapters.bus._nats import NatsEventBus
from quantgrid.adapters.bus._open import open_event_bus
from quantgrid.adapters.bus._port import (
    ErrorHandler,
    EventBus,
    EventHandler,
    Message,
    Responder,
    Subscription,
)

__all__ = [
    "DEFAULT_REGISTRY",
    "BusClosedError",
    "BusError",
    "BusUnavailableError",
    "ErrorHandler",
    "EventBus",
    "EventHandler",
    "InProcessEventBus",
    "Message",
    "MessageDecodeError",
    "MessageRegistry",
    "NatsEventBus",
    "NoResponderError",
    "RequestError",
    "Responder",
    "Subscription",
    "UnknownMessageTypeError",
    "open_event_bus",
    "register_message_type",
]
