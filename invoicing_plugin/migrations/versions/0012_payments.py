"""payments: money received is a list of payments; Checkout Sessions keep their amount

* ``invoicing_payments``: one row per payment received on an invoice -- through Stripe
  (one per PaymentIntent: ``payment_intent_id`` is unique) or recorded by hand -- with its
  amount, currency, method, when it was received, the Stripe ids and fees, a note and who
  recorded it. ``invoicing_invoices.amount_paid_minor`` stays, as the sum of the rows.
* Existing invoices that received money (``paid``, ``paid_after_void``, ``refunded``) get
  their one payment as a row: ``amount_paid_minor`` (or the invoice amount when it was
  never set, as the analytics counted it), its method (``stripe`` when the invoice names a
  PaymentIntent and no method), ``paid_at`` (else the send or creation time), the
  PaymentIntent and its Checkout Session, the Stripe and platform fees (platform fee only
  for a Stripe payment), and the payment note. ``amount_paid_minor`` is set to that amount.
* ``invoicing_checkout_sessions.amount_minor``: what a session asks the client to pay.
  Every session created before this revision was for its invoice's total (filled from it).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_payments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('method', sa.String(length=32), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
        sa.Column('checkout_session_id', sa.String(length=255), nullable=True),
        sa.Column('stripe_fee_minor', sa.BigInteger(), nullable=True),
        sa.Column('application_fee_minor', sa.BigInteger(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_payments_invoice_id_invoicing_invoices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_payments')),
        sa.UniqueConstraint('payment_intent_id', name=op.f('uq_invoicing_payments_payment_intent_id')),
    )
    op.create_index(op.f('ix_invoicing_payments_invoice_id'), 'invoicing_payments', ['invoice_id'], unique=False)
    op.create_index('ix_invoicing_payments_ws_received', 'invoicing_payments', ['workspace_id', 'received_at'],
                    unique=False)
    op.add_column('invoicing_checkout_sessions', sa.Column('amount_minor', sa.BigInteger(), nullable=True))

    op.execute("""
        UPDATE invoicing_checkout_sessions SET amount_minor = (
            SELECT i.amount_minor FROM invoicing_invoices i WHERE i.id = invoicing_checkout_sessions.invoice_id)
    """)
    received = "('paid', 'paid_after_void', 'refunded')"
    method = "COALESCE(i.payment_method, CASE WHEN i.payment_intent_id IS NOT NULL THEN 'stripe' ELSE 'other' END)"
    op.execute(f"""
        INSERT INTO invoicing_payments
            (invoice_id, workspace_id, amount_minor, currency, method, received_at, payment_intent_id,
             checkout_session_id, stripe_fee_minor, application_fee_minor, note, recorded_by, created_at)
        SELECT i.id, i.workspace_id, COALESCE(i.amount_paid_minor, i.amount_minor), i.currency, {method},
               COALESCE(i.paid_at, i.sent_at, i.created_at),
               CASE WHEN {method} = 'stripe' THEN i.payment_intent_id END,
               CASE WHEN {method} = 'stripe' THEN COALESCE(
                   (SELECT MIN(s.session_id) FROM invoicing_checkout_sessions s
                     WHERE s.invoice_id = i.id AND s.payment_intent_id = i.payment_intent_id),
                   i.checkout_session_id) END,
               CASE WHEN {method} = 'stripe' THEN i.stripe_fee_minor END,
               CASE WHEN {method} = 'stripe' THEN i.application_fee_minor END,
               i.payment_note, 'system', COALESCE(i.paid_at, i.sent_at, i.created_at)
          FROM invoicing_invoices i
         WHERE i.status IN {received}
         ORDER BY i.id
    """)
    op.execute(f"""
        UPDATE invoicing_invoices SET amount_paid_minor = amount_minor
         WHERE status IN {received} AND amount_paid_minor IS NULL
    """)


def downgrade():
    with op.batch_alter_table('invoicing_checkout_sessions') as batch_op:
        batch_op.drop_column('amount_minor')
    op.drop_index('ix_invoicing_payments_ws_received', table_name='invoicing_payments')
    op.drop_index(op.f('ix_invoicing_payments_invoice_id'), table_name='invoicing_payments')
    op.drop_table('invoicing_payments')
