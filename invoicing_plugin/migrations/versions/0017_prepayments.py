"""prepayments: paid deposits deducted from a later invoice (issue 15)

* ``invoicing_prepayments``: one row per deposit invoice deducted from an invoice -- its
  amount (paid less refunds), currency, number and paid day. ``deposit_invoice_id`` is
  unique: a deposit is deducted once, ever. Rows go with the invoice they are deducted
  from (``ON DELETE CASCADE``); a deposit that was deducted cannot be deleted (``RESTRICT``;
  only drafts are deleted, and a deducted deposit was paid).
* ``invoicing_invoices.prepaid_minor``: the sum of an invoice's prepayments (EN 16931
  BT-113 counts them as paid). Existing invoices had none: 0 (server default), so no row
  moves.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_prepayments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('deposit_invoice_id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('paid_on', sa.Date(), nullable=True),
        sa.Column('created_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_prepayments_invoice_id_invoicing_invoices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['deposit_invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_prepayments_deposit_invoice_id_invoicing_invoices'),
                                ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_prepayments')),
        sa.UniqueConstraint('deposit_invoice_id', name=op.f('uq_invoicing_prepayments_deposit_invoice_id')),
    )
    op.create_index(op.f('ix_invoicing_prepayments_invoice_id'), 'invoicing_prepayments', ['invoice_id'],
                    unique=False)
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.add_column(sa.Column('prepaid_minor', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.drop_column('prepaid_minor')
    op.drop_index(op.f('ix_invoicing_prepayments_invoice_id'), table_name='invoicing_prepayments')
    op.drop_table('invoicing_prepayments')
