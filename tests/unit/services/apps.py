"""A small typed service the tests build apps from."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

from quantgrid.services import (
    ServiceError,
    ServiceSettings,
    create_service_app,
    current_correlation_id,
    problem_type,
)

GOOD_ORDER = {"instrument_id": "AAPL", "side": "BUY", "quantity": "10"}


class SubmitOrderBody(BaseModel):
    """A typed body with rules on each field."""

    instrument_id: str = Field(min_length=1, max_length=16)
    side: Literal["BUY", "SELL"]
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    limit_price: Decimal | None = Field(default=None, gt=0, max_digits=18, decimal_places=6)


class OrderAccepted(BaseModel):
    """What the typed endpoint answers."""

    client_order_id: str
    instrument_id: str
    side: Literal["BUY", "SELL"]
    quantity: Decimal
    correlation_id: str | None


class InstrumentHaltedError(ServiceError):
    """A domain error with a status, title and type of its own."""

    status = 409
    title = "Instrument halted"
    type_uri = problem_type("instrument-halted")


def orders_router() -> APIRouter:
    """Return routes that exercise every error path."""
    router = APIRouter(prefix="/orders")

    @router.post("/{client_order_id}", status_code=201)
    async def submit_order(client_order_id: str, body: SubmitOrderBody) -> OrderAccepted:
        if body.instrument_id == "HALTED":
            raise InstrumentHaltedError(
                f"{body.instrument_id} is halted", extensions={"instrument_id": "HALTED"}
            )
        return OrderAccepted(
            client_order_id=client_order_id,
            instrument_id=body.instrument_id,
            side=body.side,
            quantity=body.quantity,
            correlation_id=current_correlation_id(),
        )

    @router.get("/{client_order_id}")
    async def get_order(
        client_order_id: str, limit: Annotated[int, Query(ge=1, le=100)] = 10
    ) -> dict[str, object]:
        if client_order_id == "missing":
            raise HTTPException(404, f"no order {client_order_id}")
        if client_order_id == "boom":
            raise RuntimeError("database password is hunter2")
        return {"client_order_id": client_order_id, "limit": limit}

    @router.post("/{client_order_id}/echo")
    async def echo_body(client_order_id: str, request: Request) -> dict[str, int]:
        body = await request.body()
        return {"bytes": len(body)}

    return router


def orders_app(**settings: object) -> FastAPI:
    """Return the orders service app, with ``settings`` over the defaults."""
    return create_service_app(
        "orders", settings=ServiceSettings.model_validate(settings), routers=[orders_router()]
    )


def client_for(app: FastAPI) -> httpx.AsyncClient:
    """Return an httpx client that calls ``app`` in process."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
