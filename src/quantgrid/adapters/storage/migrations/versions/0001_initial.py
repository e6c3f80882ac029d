"""Initial schema: orders and their events, fills, positions, cash, users, keys, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-01

Written by hand. Money and quantities are NUMERIC on PostgreSQL and the decimal's text
on SQLite (which has no exact decimal type); ids sort by code point ("C" collation).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[Decimal]:
    return sa.Numeric().with_variant(sa.Text(), "sqlite")


def _id(length: int = 128) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "orders",
        sa.Column("client_order_id", _id(), nullable=False),
        sa.Column("strategy_id", _id(), nullable=False),
        sa.Column("instrument_id", _id(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=True),
        sa.Column("price", _decimal(), nullable=True),
        sa.Column("trigger_price", _decimal(), nullable=True),
        sa.Column("cash_fraction", _decimal(), nullable=True),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("contingency", sa.String(8), nullable=False),
        sa.Column("parent_order_id", _id(), nullable=False),
        sa.Column("linked_order_ids", sa.Text(), nullable=False),
        sa.Column("order_list_id", _id(), nullable=False),
        sa.Column("ts_init", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_qty", _decimal(), nullable=False),
        sa.Column("venue_order_id", sa.String(128), nullable=False),
        sa.Column("ts_last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_ts_init_client_order_id", "orders", ["ts_init", "client_order_id"])
    op.create_index(
        "ix_orders_strategy_id_ts_init_client_order_id",
        "orders",
        ["strategy_id", "ts_init", "client_order_id"],
    )
    op.create_index(
        "ix_orders_status_ts_init_client_order_id",
        "orders",
        ["status", "ts_init", "client_order_id"],
    )

    op.create_table(
        "order_events",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("client_order_id", _id(), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name="fk_order_events_client_order_id_orders",
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_order_events"),
    )
    op.create_index(
        "ix_order_events_client_order_id_seq", "order_events", ["client_order_id", "seq"]
    )

    op.create_table(
        "fills",
        sa.Column("trade_id", _id(), nullable=False),
        sa.Column("client_order_id", _id(), nullable=False),
        sa.Column("strategy_id", _id(), nullable=False),
        sa.Column("instrument_id", _id(), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("price", _decimal(), nullable=False),
        sa.Column("commission", _decimal(), nullable=False),
        sa.Column("currency", sa.String(12), nullable=False),
        sa.Column("liquidity_side", sa.String(8), nullable=False),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["orders.client_order_id"],
            name="fk_fills_client_order_id_orders",
        ),
        sa.PrimaryKeyConstraint("trade_id", name="pk_fills"),
    )
    op.create_index(
        "ix_fills_client_order_id_ts_event_trade_id",
        "fills",
        ["client_order_id", "ts_event", "trade_id"],
    )
    op.create_index("ix_fills_ts_event_trade_id", "fills", ["ts_event", "trade_id"])

    op.create_table(
        "positions",
        sa.Column("account_id", _id(), nullable=False),
        sa.Column("instrument_id", _id(), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("avg_px_open", _decimal(), nullable=False),
        sa.Column("realized_pnl", _decimal(), nullable=False),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "instrument_id", name="pk_positions"),
    )

    op.create_table(
        "account_events",
        sa.Column("seq", _SEQ, autoincrement=True, nullable=False),
        sa.Column("event_id", _id(), nullable=False),
        sa.Column("account_id", _id(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("currency", sa.String(12), nullable=False),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_account_events"),
        sa.UniqueConstraint("event_id", name="uq_account_events_event_id"),
    )
    op.create_index(
        "ix_account_events_account_id_ts_event_seq",
        "account_events",
        ["account_id", "ts_event", "seq"],
    )

    op.create_table(
        "users",
        sa.Column("username", _id(64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("disabled_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("username", name="pk_users"),
    )

    op.create_table(
        "api_keys",
        sa.Column("key_id", _id(64), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("owner", _id(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ns", sa.BigInteger(), nullable=True),
        sa.Column("last_used_ns", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["owner"], ["users.username"], name="fk_api_keys_owner_users"),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_keys"),
    )
    op.create_index(
        "ix_api_keys_owner_created_ns_key_id", "api_keys", ["owner", "created_ns", "key_id"]
    )

    op.create_table(
        "backtest_jobs",
        sa.Column("job_id", _id(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("result_path", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_ns", sa.BigInteger(), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=True),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name="pk_backtest_jobs"),
    )
    op.create_index(
        "ix_backtest_jobs_status_created_ns_job_id",
        "backtest_jobs",
        ["status", "created_ns", "job_id"],
    )
    op.create_index("ix_backtest_jobs_created_ns_job_id", "backtest_jobs", ["created_ns", "job_id"])


def downgrade() -> None:
    """Drop the tables, children before parents."""
    for table in (
        "backtest_jobs",
        "api_keys",
        "users",
        "account_events",
        "positions",
        "fills",
        "order_events",
        "orders",
    ):
        op.drop_table(table)
