"""credit notes: their own numbers per workspace, and the credited sum on each invoice

* ``invoicing_credit_note_sequences``: the next credit note number per workspace (a row
  locked while a number is taken, as ``invoicing_sequences`` for invoices).
* ``invoicing_credit_notes``: one row per credit note (number unique per workspace, the
  corrected invoice, the credited amount and currency, the reason, how it is settled:
  ``reduces_due`` / ``refund`` / ``client_credit``, the Stripe refund id, who and when,
  the public token of its document).
* ``invoicing_invoices.amount_credited_minor``: the sum of the invoice's credit notes.
  Existing invoices have none: the column is added ``NOT NULL`` with the server default
  ``0``, so every existing row reads 0 (no data to move).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_credit_note_sequences',
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('next_value', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('workspace_id', name=op.f('pk_invoicing_credit_note_sequences')),
    )
    op.create_table(
        'invoicing_credit_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('public_token', sa.String(length=64), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('amount_minor', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('settlement', sa.String(length=16), nullable=False),
        sa.Column('refund_id', sa.String(length=255), nullable=True),
        sa.Column('created_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_credit_notes_invoice_id_invoicing_invoices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_credit_notes')),
        sa.UniqueConstraint('public_token', name=op.f('uq_invoicing_credit_notes_public_token')),
        sa.UniqueConstraint('refund_id', name=op.f('uq_invoicing_credit_notes_refund_id')),
        sa.UniqueConstraint('workspace_id', 'number', name=op.f('uq_invoicing_credit_notes_workspace_id_number')),
    )
    op.create_index('ix_invoicing_credit_notes_ws_invoice', 'invoicing_credit_notes',
                    ['workspace_id', 'invoice_id', 'id'], unique=False)
    op.create_index('ix_invoicing_credit_notes_ws_client', 'invoicing_credit_notes',
                    ['workspace_id', 'client_id', 'settlement'], unique=False)
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.add_column(sa.Column('amount_credited_minor', sa.BigInteger(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.drop_column('amount_credited_minor')
    op.drop_index('ix_invoicing_credit_notes_ws_client', table_name='invoicing_credit_notes')
    op.drop_index('ix_invoicing_credit_notes_ws_invoice', table_name='invoicing_credit_notes')
    op.drop_table('invoicing_credit_notes')
    op.drop_table('invoicing_credit_note_sequences')
