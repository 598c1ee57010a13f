"""Handoffs to the human agents, and citizens' feedback on the bot's answers.

Also stores the messages' missing sources as SQL NULL rather than JSON ``null`` (the model now binds None
as NULL), so that "a message with a source" is simply ``source IS NOT NULL``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _conversation_fk(table: str) -> sa.ForeignKeyConstraint:
    """Return the foreign key of ``table.conversation_id``, deleted with its conversation."""
    return sa.ForeignKeyConstraint(
        ["conversation_id"],
        ["conversations.id"],
        name=op.f(f"fk_{table}_conversation_id_conversations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Create the ``handoffs`` and ``feedback`` tables; turn JSON ``null`` sources into NULL."""
    op.create_table(
        "handoffs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee", sa.String(length=150), nullable=True),
        sa.CheckConstraint("status IN ('waiting', 'active', 'closed')", name=op.f("ck_handoffs_status")),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_handoffs_language")),
        _conversation_fk("handoffs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
    )
    op.create_index(op.f("ix_handoffs_conversation_id"), "handoffs", ["conversation_id"], unique=False)
    op.create_index("ix_handoffs_status_created_at", "handoffs", ["status", "created_at"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("message_seq", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=200), nullable=True),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('widget', 'bot')", name=op.f("ck_feedback_source")),
        sa.CheckConstraint("language IN ('fr', 'en')", name=op.f("ck_feedback_language")),
        _conversation_fk("feedback"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_conversation_id"), "feedback", ["conversation_id"], unique=False)
    op.create_index(op.f("ix_feedback_created_at"), "feedback", ["created_at"], unique=False)
    op.create_index(op.f("ix_feedback_slug"), "feedback", ["slug"], unique=False)

    op.execute("UPDATE messages SET source = NULL WHERE CAST(source AS TEXT) = 'null'")


def downgrade() -> None:
    """Drop the ``feedback`` and ``handoffs`` tables (NULL sources stay NULL: both read as None)."""
    op.drop_index(op.f("ix_feedback_slug"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_created_at"), table_name="feedback")
    op.drop_index(op.f("ix_feedback_conversation_id"), table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_handoffs_status_created_at", table_name="handoffs")
    op.drop_index(op.f("ix_handoffs_conversation_id"), table_name="handoffs")
    op.drop_table("handoffs")
