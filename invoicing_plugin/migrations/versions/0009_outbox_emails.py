"""outgoing emails: an outbox written with the change that causes them

* ``invoicing_outbox_emails``: every email the plugin sends (the invoice email with its
  Pay button, the payment confirmation), rendered and stored in the same transaction as
  the change that causes it, delivered after the commit and retried by
  ``flask invoicing deliver-emails`` (attempts, next attempt, last error, sent at).
  Existing installations start with an empty outbox: emails sent before the upgrade were
  sent the old way; a payment confirmation that failed then is queued by
  ``flask invoicing reconcile`` as before.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_outbox_emails',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('to_address', sa.String(length=320), nullable=False),
        sa.Column('to_name', sa.String(length=255), nullable=True),
        sa.Column('reply_to', sa.String(length=320), nullable=True),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('body_text', sa.Text(), nullable=False),
        sa.Column('body_html', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claim_token', sa.String(length=32), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('message_id', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_outbox_emails')),
    )
    op.create_index('ix_invoicing_outbox_emails_due', 'invoicing_outbox_emails',
                    ['status', 'next_attempt_at', 'id'], unique=False)
    op.create_index('ix_invoicing_outbox_emails_ws_created', 'invoicing_outbox_emails',
                    ['workspace_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_invoicing_outbox_emails_invoice_id'), 'invoicing_outbox_emails',
                    ['invoice_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_invoicing_outbox_emails_invoice_id'), table_name='invoicing_outbox_emails')
    op.drop_index('ix_invoicing_outbox_emails_ws_created', table_name='invoicing_outbox_emails')
    op.drop_index('ix_invoicing_outbox_emails_due', table_name='invoicing_outbox_emails')
    op.drop_table('invoicing_outbox_emails')
