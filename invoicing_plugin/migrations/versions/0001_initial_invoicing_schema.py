"""initial invoicing schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = ('invoicing',)
depends_on = None


def upgrade():
    op.create_table('invoicing_client_portals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_client_portals')),
    sa.UniqueConstraint('token', name=op.f('uq_invoicing_client_portals_token')),
    sa.UniqueConstraint('workspace_id', 'client_id', name=op.f('uq_invoicing_client_portals_workspace_id_client_id'))
    )
    op.create_table('invoicing_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('public_token', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_name', sa.String(length=255), nullable=False),
    sa.Column('client_email', sa.String(length=320), nullable=False),
    sa.Column('subject_ref', sa.String(length=140), nullable=True),
    sa.Column('subject_title', sa.String(length=255), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('send_method', sa.String(length=16), nullable=False),
    sa.Column('fee_bps', sa.Integer(), nullable=True),
    sa.Column('application_fee_minor', sa.BigInteger(), nullable=True),
    sa.Column('stripe_mode', sa.String(length=16), nullable=True),
    sa.Column('stripe_account_id', sa.String(length=64), nullable=True),
    sa.Column('checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('checkout_url', sa.Text(), nullable=True),
    sa.Column('checkout_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checkout_attempt', sa.Integer(), nullable=False),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('amount_paid_minor', sa.BigInteger(), nullable=True),
    sa.Column('amount_refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('stripe_fee_minor', sa.BigInteger(), nullable=True),
    sa.Column('payment_method', sa.String(length=32), nullable=True),
    sa.Column('payment_note', sa.Text(), nullable=True),
    sa.Column('attention', sa.String(length=64), nullable=True),
    sa.Column('attention_detail', sa.Text(), nullable=True),
    sa.Column('online_payment_unavailable', sa.Boolean(), nullable=False),
    sa.Column('confirmation_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_invoices')),
    sa.UniqueConstraint('public_token', name=op.f('uq_invoicing_invoices_public_token')),
    sa.UniqueConstraint('workspace_id', 'number', name=op.f('uq_invoicing_invoices_workspace_id_number'))
    )
    with op.batch_alter_table('invoicing_invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_invoices_checkout_session_id'), ['checkout_session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoicing_invoices_payment_intent_id'), ['payment_intent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoicing_invoices_subject_ref'), ['subject_ref'], unique=False)
        batch_op.create_index('ix_invoicing_invoices_ws_client', ['workspace_id', 'client_id'], unique=False)
        batch_op.create_index('ix_invoicing_invoices_ws_created', ['workspace_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_invoicing_invoices_ws_status_created', ['workspace_id', 'status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_invoicing_invoices_ws_status_paid', ['workspace_id', 'status', 'paid_at'], unique=False)

    op.create_table('invoicing_sequences',
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('next_value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_invoicing_sequences'))
    )
    op.create_table('invoicing_stripe_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('charges_enabled', sa.Boolean(), nullable=False),
    sa.Column('payouts_enabled', sa.Boolean(), nullable=False),
    sa.Column('details_submitted', sa.Boolean(), nullable=False),
    sa.Column('requirements', sa.JSON(), nullable=True),
    sa.Column('disabled_reason', sa.String(length=128), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('secret_key_encrypted', sa.Text(), nullable=True),
    sa.Column('secret_key_hint', sa.String(length=32), nullable=True),
    sa.Column('webhook_endpoint_id', sa.String(length=64), nullable=True),
    sa.Column('webhook_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('connected_by', sa.String(length=255), nullable=True),
    sa.Column('connected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disconnected_by', sa.String(length=255), nullable=True),
    sa.Column('disconnected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_stripe_connections')),
    sa.UniqueConstraint('workspace_id', name=op.f('uq_invoicing_stripe_connections_workspace_id'))
    )
    with op.batch_alter_table('invoicing_stripe_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_stripe_connections_account_id'), ['account_id'], unique=False)

    op.create_table('invoicing_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('due_in_days', sa.Integer(), nullable=True),
    sa.Column('send_method', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_templates')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_invoicing_templates_workspace_id_name'))
    )
    with op.batch_alter_table('invoicing_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_templates_workspace_id'), ['workspace_id'], unique=False)

    op.create_table('invoicing_webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=96), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('workspace_id', sa.String(length=64), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('stripe_created', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_webhook_events')),
    sa.UniqueConstraint('event_id', name=op.f('uq_invoicing_webhook_events_event_id'))
    )
    with op.batch_alter_table('invoicing_webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_webhook_events_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index('ix_invoicing_webhook_events_ws_received', ['workspace_id', 'received_at'], unique=False)

    op.create_table('invoicing_invoice_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=48), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'], name=op.f('fk_invoicing_invoice_events_invoice_id_invoicing_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_invoice_events'))
    )
    with op.batch_alter_table('invoicing_invoice_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_invoice_events_invoice_id'), ['invoice_id'], unique=False)



def downgrade():
    with op.batch_alter_table('invoicing_invoice_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_invoice_events_invoice_id'))

    op.drop_table('invoicing_invoice_events')
    with op.batch_alter_table('invoicing_webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_invoicing_webhook_events_ws_received')
        batch_op.drop_index(batch_op.f('ix_invoicing_webhook_events_invoice_id'))

    op.drop_table('invoicing_webhook_events')
    with op.batch_alter_table('invoicing_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_templates_workspace_id'))

    op.drop_table('invoicing_templates')
    with op.batch_alter_table('invoicing_stripe_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_stripe_connections_account_id'))

    op.drop_table('invoicing_stripe_connections')
    op.drop_table('invoicing_sequences')
    with op.batch_alter_table('invoicing_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoicing_invoices_ws_status_paid')
        batch_op.drop_index('ix_invoicing_invoices_ws_status_created')
        batch_op.drop_index('ix_invoicing_invoices_ws_created')
        batch_op.drop_index('ix_invoicing_invoices_ws_client')
        batch_op.drop_index(batch_op.f('ix_invoicing_invoices_subject_ref'))
        batch_op.drop_index(batch_op.f('ix_invoicing_invoices_payment_intent_id'))
        batch_op.drop_index(batch_op.f('ix_invoicing_invoices_checkout_session_id'))

    op.drop_table('invoicing_invoices')
    op.drop_table('invoicing_client_portals')
