"""webhook deliveries refused, counted per day, endpoint kind, reason and scope

* ``invoicing_webhook_refusals``: the webhook endpoint's 400/413 answers, one row per
  (day, endpoint kind, reason, scope) with a count; the last signed event's id and type
  when a configured secret verified it, never a body (see docs/webhooks.md).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_webhook_refusals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('endpoint', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=False),
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('signed', sa.Boolean(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=False),
        sa.Column('last_message', sa.Text(), nullable=True),
        sa.Column('last_event_id', sa.String(length=255), nullable=True),
        sa.Column('last_event_type', sa.String(length=96), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_webhook_refusals')),
        sa.UniqueConstraint('day', 'endpoint', 'reason', 'scope',
                            name=op.f('uq_invoicing_webhook_refusals_day_endpoint_reason_scope')),
    )


def downgrade():
    op.drop_table('invoicing_webhook_refusals')
