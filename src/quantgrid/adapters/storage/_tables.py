"""The tables, as SQLAlchemy Core metadata (what the migrations must build).

A test holds ``migrations/versions`` to this module: the migrated schema of an empty
database has no difference from ``METADATA``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class DecimalType(sa.TypeDecorator[Decimal]):
    """An exact decimal: ``NUMERIC`` on PostgreSQL, the decimal's text on SQLite.

    SQLite has no decimal type: a ``NUMERIC`` column there turns values into 8-byte
    floats (15 significant digits), so the text is stored instead and read back with
    ``Decimal(text)``, exactly. Nothing sums or compares these columns in SQL.
    """

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Return TEXT on SQLite and an unconstrained NUMERIC elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Text())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Return the value as the driver takes it."""
        if value is None or dialect.name != "sqlite":
            return value
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Return the stored value as a ``Decimal``."""
        if value is None or isinstance(value, Decimal):
            return value
        return Decimal(value)


def id_type(length: int = 128) -> TypeEngine[str]:
    """Return a string id type; on PostgreSQL with the "C" collation.

    Ids sort by code point in every store (Python, SQLite's BINARY and PostgreSQL's
    "C"), whatever the server's locale, so pages and listings match the fake's.
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

METADATA = sa.MetaData(naming_convention=NAMING)
TS = sa.BigInteger  # integer nanoseconds since the epoch, UTC
# SQLite autoincrements only an INTEGER PRIMARY KEY.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

orders = sa.Table(
    "orders",
    METADATA,
    sa.Column("client_order_id", id_type(), primary_key=True),
    sa.Column("strategy_id", id_type(), nullable=False),
    sa.Column("instrument_id", id_type(), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("order_type", sa.String(16), nullable=False),
    sa.Column("time_in_force", sa.String(8), nullable=False),
    sa.Column("quantity", DecimalType(), nullable=True),
    sa.Column("price", DecimalType(), nullable=True),
    sa.Column("trigger_price", DecimalType(), nullable=True),
    sa.Column("cash_fraction", DecimalType(), nullable=True),
    sa.Column("post_only", sa.Boolean(), nullable=False),
    sa.Column("reduce_only", sa.Boolean(), nullable=False),
    sa.Column("tag", sa.Text(), nullable=False),
    sa.Column("contingency", sa.String(8), nullable=False),
    sa.Column("parent_order_id", id_type(), nullable=False),
    sa.Column("linked_order_ids", sa.Text(), nullable=False),  # JSON array
    sa.Column("order_list_id", id_type(), nullable=False),
    sa.Column("ts_init", TS, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("filled_qty", DecimalType(), nullable=False),
    sa.Column("venue_order_id", sa.String(128), nullable=False),
    sa.Column("ts_last", TS, nullable=False),
    sa.Index(None, "ts_init", "client_order_id"),
    sa.Index(None, "strategy_id", "ts_init", "client_order_id"),
    sa.Index(None, "status", "ts_init", "client_order_id"),
)

order_events = sa.Table(
    "order_events",
    METADATA,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column(
        "client_order_id",
        id_type(),
        sa.ForeignKey("orders.client_order_id"),
        nullable=False,
    ),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("ts_event", TS, nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),  # the event as msgspec JSON
    sa.Index(None, "client_order_id", "seq"),
)

fills = sa.Table(
    "fills",
    METADATA,
    sa.Column("trade_id", id_type(), primary_key=True),
    sa.Column(
        "client_order_id",
        id_type(),
        sa.ForeignKey("orders.client_order_id"),
        nullable=False,
    ),
    sa.Column("strategy_id", id_type(), nullable=False),
    sa.Column("instrument_id", id_type(), nullable=False),
    sa.Column("side", sa.String(8), nullable=False),
    sa.Column("quantity", DecimalType(), nullable=False),
    sa.Column("price", DecimalType(), nullable=False),
    sa.Column("commission", DecimalType(), nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("liquidity_side", sa.String(8), nullable=False),
    sa.Column("ts_event", TS, nullable=False),
    sa.Index(None, "client_order_id", "ts_event", "trade_id"),
    sa.Index(None, "ts_event", "trade_id"),
)

positions = sa.Table(
    "positions",
    METADATA,
    sa.Column("account_id", id_type(), primary_key=True),
    sa.Column("instrument_id", id_type(), primary_key=True),
    sa.Column("quantity", DecimalType(), nullable=False),
    sa.Column("avg_px_open", DecimalType(), nullable=False),
    sa.Column("realized_pnl", DecimalType(), nullable=False),
    sa.Column("ts_event", TS, nullable=False),
)

account_events = sa.Table(
    "account_events",
    METADATA,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("event_id", id_type(), nullable=False, unique=True),
    sa.Column("account_id", id_type(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("amount", DecimalType(), nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("ts_event", TS, nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Index(None, "account_id", "ts_event", "seq"),
)

users = sa.Table(
    "users",
    METADATA,
    sa.Column("username", id_type(64), primary_key=True),
    sa.Column("password_hash", sa.Text(), nullable=False),
    sa.Column("role", sa.String(8), nullable=False),
    sa.Column("created_ns", TS, nullable=False),
    sa.Column("disabled_ns", TS, nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    METADATA,
    sa.Column("key_id", id_type(64), primary_key=True),
    sa.Column("key_hash", sa.Text(), nullable=False),
    sa.Column("owner", id_type(64), sa.ForeignKey("users.username"), nullable=False),
    sa.Column("role", sa.String(8), nullable=False),
    sa.Column("created_ns", TS, nullable=False),
    sa.Column("revoked_ns", TS, nullable=True),
    sa.Column("last_used_ns", TS, nullable=True),
    sa.Index(None, "owner", "created_ns", "key_id"),
)

backtest_jobs = sa.Table(
    "backtest_jobs",
    METADATA,
    sa.Column("job_id", id_type(), primary_key=True),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("progress", sa.Float(), nullable=False),
    sa.Column("params", sa.Text(), nullable=False),  # JSON object, sorted keys
    sa.Column("result_path", sa.Text(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("created_ns", TS, nullable=False),
    sa.Column("started_ns", TS, nullable=True),
    sa.Column("finished_ns", TS, nullable=True),
    sa.Index(None, "status", "created_ns", "job_id"),
    sa.Index(None, "created_ns", "job_id"),
)

# A prediction and, once resolved, its outcome: one row, written twice (logged, then
# resolved). Floats are 8-byte doubles on both databases, so they read back exactly.
predictions = sa.Table(
    "predictions",
    METADATA,
    sa.Column("prediction_id", id_type(), primary_key=True),
    sa.Column("model_name", id_type(), nullable=False),
    sa.Column("model_version", sa.Integer(), nullable=False),
    sa.Column("instrument_id", id_type(), nullable=False),
    sa.Column("strategy_id", id_type(), nullable=True),
    sa.Column("ts_event", TS, nullable=False),
    sa.Column("direction", sa.String(8), nullable=False),
    sa.Column("confidence", sa.Float(), nullable=False),
    sa.Column("horizon_kind", sa.String(16), nullable=False),
    sa.Column("horizon_value", sa.BigInteger(), nullable=False),
    sa.Column("exchange_tz", sa.String(64), nullable=False),
    sa.Column("feature_snapshot", sa.Text(), nullable=False),  # JSON object, sorted keys
    sa.Column("probabilities", sa.Text(), nullable=True),  # JSON object, sorted keys
    sa.Column("due_ns", TS, nullable=False),  # due_time_ns(prediction)
    sa.Column("outcome_status", sa.String(16), nullable=False),  # "pending" until resolved
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Column("ts_entry", TS, nullable=True),
    sa.Column("entry_price", sa.Float(), nullable=True),
    sa.Column("ts_exit", TS, nullable=True),
    sa.Column("exit_price", sa.Float(), nullable=True),
    sa.Column("realized_return", sa.Float(), nullable=True),
    sa.Column("prior_return", sa.Float(), nullable=True),
    sa.Column("hit", sa.Boolean(), nullable=True),
    sa.Column("ts_resolved", TS, nullable=True),
    # The evaluator's query: pending ones by due time, without reading resolved ones.
    sa.Index(None, "outcome_status", "due_ns", "prediction_id"),
    sa.Index(None, "ts_event", "prediction_id"),
    sa.Index(None, "model_name", "model_version", "ts_event", "prediction_id"),
    sa.Index(None, "instrument_id", "ts_event", "prediction_id"),
)

# One row per (job, slot): the primary key is what makes a claim unique.
job_runs = sa.Table(
    "job_runs",
    METADATA,
    sa.Column("job", id_type(), primary_key=True),
    sa.Column("slot_ns", TS, primary_key=True),
    sa.Column("owner", id_type(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_ns", TS, nullable=False),
    sa.Column("finished_ns", TS, nullable=True),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Index(None, "slot_ns", "job"),
)

# Named pieces of runtime state (where a replay got to...): one row per name, replaced
# whole by an upsert.
checkpoints = sa.Table(
    "checkpoints",
    METADATA,
    sa.Column("name", id_type(), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),  # a JSON object
    sa.Column("ts_ns", TS, nullable=False),
)
