"""Named checkpoints of runtime state (paper trading's resume point).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Written by hand. The value is a JSON object as text; the name sorts by code point
(the "C" collation on PostgreSQL), as every id does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(length: int = 128) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    """Create the checkpoints table."""
    op.create_table(
        "checkpoints",
        sa.Column("name", _id(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_checkpoints"),
    )


def downgrade() -> None:
    """Drop the checkpoints table (and every checkpoint in it)."""
    op.drop_table("checkpoints")
