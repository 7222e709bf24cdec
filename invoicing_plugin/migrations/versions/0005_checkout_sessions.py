"""every Checkout Session the plugin created; why a webhook event was ignored

* ``invoicing_checkout_sessions``: one row per Checkout Session the plugin created
  (session id unique), with its invoice, workspace, where the money goes (``stripe_mode``
  and the connected / own account id) and, once known, the session's PaymentIntent.
  Stripe events are bound to invoices only through this table (see docs/webhooks.md).
* It is filled here from each existing invoice's current ``checkout_session_id`` (and
  ``payment_intent_id``). Older sessions of those invoices were never kept, so they are
  not known; Checkout Sessions live at most 24 hours.
* ``invoicing_webhook_events.note``: what handling an event found out -- for an ignored
  event, the reason (shown on the webhook health page).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_FILL = """
    INSERT INTO invoicing_checkout_sessions
        (session_id, invoice_id, workspace_id, stripe_mode, account_id, payment_intent_id, created_at)
    SELECT checkout_session_id, id, workspace_id, COALESCE(stripe_mode, 'connect'), stripe_account_id,
           payment_intent_id, COALESCE(sent_at, created_at)
      FROM invoicing_invoices
     WHERE id IN (SELECT MIN(id) FROM invoicing_invoices
                   WHERE checkout_session_id IS NOT NULL GROUP BY checkout_session_id)
"""


def upgrade():
    op.create_table(
        'invoicing_checkout_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.String(length=255), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('stripe_mode', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=True),
        sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_checkout_sessions_invoice_id_invoicing_invoices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_checkout_sessions')),
        sa.UniqueConstraint('session_id', name=op.f('uq_invoicing_checkout_sessions_session_id')),
    )
    op.create_index(op.f('ix_invoicing_checkout_sessions_invoice_id'), 'invoicing_checkout_sessions',
                    ['invoice_id'], unique=False)
    op.create_index(op.f('ix_invoicing_checkout_sessions_payment_intent_id'), 'invoicing_checkout_sessions',
                    ['payment_intent_id'], unique=False)
    op.execute(_FILL)
    op.add_column('invoicing_webhook_events', sa.Column('note', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('invoicing_webhook_events', schema=None) as batch_op:
        batch_op.drop_column('note')
    op.drop_index(op.f('ix_invoicing_checkout_sessions_payment_intent_id'), table_name='invoicing_checkout_sessions')
    op.drop_index(op.f('ix_invoicing_checkout_sessions_invoice_id'), table_name='invoicing_checkout_sessions')
    op.drop_table('invoicing_checkout_sessions')
