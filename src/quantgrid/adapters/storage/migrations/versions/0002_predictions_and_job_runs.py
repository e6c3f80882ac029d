"""Predictions with their outcomes (ML-6), and runs of recurring jobs (SV-8).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20

Written by hand. Floats are 8-byte doubles (FLOAT is double precision on PostgreSQL,
REAL on SQLite); the feature snapshot and the probabilities are JSON text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(length: int = 128) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the predictions and job_runs tables."""
    op.create_table(
        "predictions",
        sa.Column("prediction_id", _id(), nullable=False),
        sa.Column("model_name", _id(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("instrument_id", _id(), nullable=False),
        sa.Column("strategy_id", _id(), nullable=True),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("horizon_kind", sa.String(16), nullable=False),
        sa.Column("horizon_value", sa.BigInteger(), nullable=False),
        sa.Column("exchange_tz", sa.String(64), nullable=False),
        sa.Column("feature_snapshot", sa.Text(), nullable=False),
        sa.Column("probabilities", sa.Text(), nullable=True),
        sa.Column("due_ns", sa.BigInteger(), nullable=False),
        sa.Column("outcome_status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("ts_entry", sa.BigInteger(), nullable=True),
        sa.Column("entry_price", sa.Float(), nullable=True),
        sa.Column("ts_exit", sa.BigInteger(), nullable=True),
        sa.Column("exit_price", sa.Float(), nullable=True),
        sa.Column("realized_return", sa.Float(), nullable=True),
        sa.Column("prior_return", sa.Float(), nullable=True),
        sa.Column("hit", sa.Boolean(), nullable=True),
        sa.Column("ts_resolved", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("prediction_id", name="pk_predictions"),
    )
    op.create_index(
        "ix_predictions_outcome_status_due_ns_prediction_id",
        "predictions",
        ["outcome_status", "due_ns", "prediction_id"],
    )
    op.create_index(
        "ix_predictions_ts_event_prediction_id", "predictions", ["ts_event", "prediction_id"]
    )
    op.create_index(
        "ix_predictions_model_name_model_version_ts_event_prediction_id",
        "predictions",
        ["model_name", "model_version", "ts_event", "prediction_id"],
    )
    op.create_index(
        "ix_predictions_instrument_id_ts_event_prediction_id",
        "predictions",
        ["instrument_id", "ts_event", "prediction_id"],
    )

    op.create_table(
        "job_runs",
        sa.Column("job", _id(), nullable=False),
        sa.Column("slot_ns", sa.BigInteger(), nullable=False),
        sa.Column("owner", _id(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_ns", sa.BigInteger(), nullable=False),
        sa.Column("finished_ns", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot_ns", name="pk_job_runs"),
    )
    op.create_index("ix_job_runs_slot_ns_job", "job_runs", ["slot_ns", "job"])


def downgrade() -> None:
    """Drop the predictions and job_runs tables (and every row in them)."""
    op.drop_table("job_runs")
    op.drop_table("predictions")
