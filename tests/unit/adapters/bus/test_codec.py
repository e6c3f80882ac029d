"""The wire format: tagged JSON, a registry of Struct types, clear errors."""

from __future__ import annotations

import json

import msgspec
import pytest

from quantgrid.adapters.bus import (
    DEFAULT_REGISTRY,
    MessageDecodeError,
    MessageRegistry,
    UnknownMessageTypeError,
    register_message_type,
)
from quantgrid.model import OrderFilled
from tests.unit.adapters.bus.bus_contract import Ping, Unregistered, a_fill, make_registry


def test_a_struct_is_tagged_with_its_registered_name() -> None:
    data = make_registry().encode(Ping(1, "a"))

    assert json.loads(data) == {"type": "Ping", "data": {"n": 1, "note": "a"}}


def test_plain_values_are_tagged_json_and_round_trip() -> None:
    registry = MessageRegistry()
    for value in ({"a": [1, 2.5, None]}, [1, "x"], "text", 3, 2.5, True):
        assert registry.decode(registry.encode(value)) == value


def test_floats_and_enums_survive_exactly() -> None:
    registry = make_registry()

    assert registry.decode(registry.encode(a_fill())) == a_fill()


def test_a_name_is_given_once_and_a_class_once() -> None:
    registry = MessageRegistry()
    registry.register(Ping)
    registry.register(Ping)  # the same again: fine

    class Other(msgspec.Struct):
        n: int

    Other.__name__ = "Ping"
    with pytest.raises(ValueError, match="already belongs to"):
        registry.register(Other)
    with pytest.raises(ValueError, match="already registered as 'Ping'"):
        registry.register(Ping, name="Ping2")


def test_a_struct_may_travel_under_another_name() -> None:
    sender, receiver = MessageRegistry(), MessageRegistry()
    sender.register(Ping, name="quant.Ping")
    receiver.register(Ping, name="quant.Ping")

    assert receiver.decode(sender.encode(Ping(2))) == Ping(2)


@pytest.mark.parametrize("name", ["", "json"])
def test_reserved_and_empty_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot name"):
        MessageRegistry().register(Ping, name=name)


def test_only_structs_are_registered() -> None:
    with pytest.raises(TypeError, match="only msgspec Structs"):
        MessageRegistry().register(dict)  # type: ignore[type-var]


def test_a_subclass_needs_its_own_registration() -> None:
    class LatePing(Ping, frozen=True):
        late_ms: int = 0

    with pytest.raises(UnknownMessageTypeError, match="LatePing"):
        make_registry().encode(LatePing(1))


def test_the_sender_is_told_to_register_the_type() -> None:
    with pytest.raises(UnknownMessageTypeError) as caught:
        MessageRegistry().encode(Unregistered(1))

    assert "register_message_type(Unregistered)" in str(caught.value)
    assert "receiving process" in str(caught.value)


def test_the_receiver_names_the_unknown_type_and_what_it_knows() -> None:
    data = make_registry().encode(Ping(1))
    receiver = MessageRegistry()
    receiver.register(OrderFilled)

    with pytest.raises(UnknownMessageTypeError, match=r"'Ping'.*known: OrderFilled"):
        receiver.decode(data)


def test_bytes_that_are_not_a_message_are_refused() -> None:
    with pytest.raises(MessageDecodeError, match="not a QuantGrid message"):
        make_registry().decode(b'{"n": 1}')


def test_data_that_does_not_fit_the_type_is_refused() -> None:
    data = b'{"type": "Ping", "data": {"n": "one"}}'

    with pytest.raises(MessageDecodeError, match="does not fit"):
        make_registry().decode(data)


def test_a_value_without_json_form_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot encode a set"):
        MessageRegistry().encode({object()})


def test_register_message_type_fills_the_default_registry_and_decorates() -> None:
    @register_message_type
    class CodecTestPinged(msgspec.Struct, frozen=True):
        n: int

    assert CodecTestPinged in DEFAULT_REGISTRY
    assert DEFAULT_REGISTRY.decode(DEFAULT_REGISTRY.encode(CodecTestPinged(1))) == (
        CodecTestPinged(1)
    )
