"""credit note lines, client credit deducted like deposits, deposits freed by a void

* ``invoicing_credit_note_lines``: the invoice lines a credit note credits (the line, the
  quantity credited, its description, unit, unit price, VAT category and rate, and the
  credited net). Existing credit notes were for an amount: they have none.
* ``invoicing_credit_notes.net_minor`` / ``tax_minor`` / ``vat_breakdown``: a line note's
  totals and VAT breakdown; NULL for existing notes (notes for an amount).
* ``invoicing_prepayments``: a row deducts a paid deposit (``deposit_invoice_id``, now
  nullable) or the client's credit from a credit note (``credit_note_id``, new). What a row
  *holds* is in ``holds_deposit_id`` / ``holds_credit_note_id`` (unique; NULL once freed,
  ``released_at`` set), which replace the unique constraint on ``deposit_invoice_id``.
  Existing rows are moved: a row of an invoice that is voided or credited holds nothing
  (its deposit is freed, as voiding and crediting in full now do), every other row holds
  its deposit.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

_CANCELLED = ('voided', 'credited')


def upgrade():
    with op.batch_alter_table('invoicing_credit_notes') as batch:
        batch.add_column(sa.Column('net_minor', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('tax_minor', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('vat_breakdown', sa.JSON(), nullable=True))
    op.create_table(
        'invoicing_credit_note_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credit_note_id', sa.Integer(), nullable=False),
        sa.Column('invoice_line_id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('quantity', sa.String(length=32), nullable=False),
        sa.Column('unit', sa.String(length=32), nullable=False),
        sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
        sa.Column('vat_category', sa.String(length=2), nullable=False),
        sa.Column('vat_rate', sa.String(length=32), nullable=False),
        sa.Column('exemption_reason', sa.Text(), nullable=True),
        sa.Column('net_minor', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['credit_note_id'], ['invoicing_credit_notes.id'],
                                name=op.f('fk_invoicing_credit_note_lines_credit_note_id_invoicing_credit_notes'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_line_id'], ['invoicing_invoice_lines.id'],
                                name=op.f('fk_invoicing_credit_note_lines_invoice_line_id_invoicing_invoice_lines'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_credit_note_lines')),
        sa.UniqueConstraint('credit_note_id', 'position',
                            name=op.f('uq_invoicing_credit_note_lines_credit_note_id_position')),
    )
    op.create_index(op.f('ix_invoicing_credit_note_lines_credit_note_id'), 'invoicing_credit_note_lines',
                    ['credit_note_id'], unique=False)
    op.create_index(op.f('ix_invoicing_credit_note_lines_invoice_line_id'), 'invoicing_credit_note_lines',
                    ['invoice_line_id'], unique=False)

    with op.batch_alter_table('invoicing_prepayments') as batch:
        batch.add_column(sa.Column('credit_note_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('holds_deposit_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('holds_credit_note_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('released_at', sa.DateTime(timezone=True), nullable=True))
        batch.alter_column('deposit_invoice_id', existing_type=sa.Integer(), nullable=True)
        batch.drop_constraint('uq_invoicing_prepayments_deposit_invoice_id', type_='unique')
        batch.create_foreign_key(op.f('fk_invoicing_prepayments_credit_note_id_invoicing_credit_notes'),
                                 'invoicing_credit_notes', ['credit_note_id'], ['id'], ondelete='RESTRICT')
    # Move the existing rows: each holds its deposit, unless its invoice was cancelled.
    prepayments = sa.table('invoicing_prepayments', sa.column('id', sa.Integer()), sa.column('invoice_id', sa.Integer()),
                           sa.column('deposit_invoice_id', sa.Integer()), sa.column('holds_deposit_id', sa.Integer()),
                           sa.column('released_at', sa.DateTime(timezone=True)))
    invoices = sa.table('invoicing_invoices', sa.column('id', sa.Integer()), sa.column('status', sa.String()),
                        sa.column('voided_at', sa.DateTime(timezone=True)), sa.column('updated_at', sa.DateTime(timezone=True)))
    cancelled = sa.select(invoices.c.id).where(invoices.c.status.in_(_CANCELLED))
    op.execute(prepayments.update().where(prepayments.c.invoice_id.not_in(cancelled))
               .values(holds_deposit_id=prepayments.c.deposit_invoice_id))
    op.execute(prepayments.update().where(prepayments.c.invoice_id.in_(cancelled))
               .values(released_at=sa.select(sa.func.coalesce(invoices.c.voided_at, invoices.c.updated_at))
                       .where(invoices.c.id == prepayments.c.invoice_id).scalar_subquery()))
    with op.batch_alter_table('invoicing_prepayments') as batch:
        batch.create_unique_constraint(op.f('uq_invoicing_prepayments_holds_deposit_id'), ['holds_deposit_id'])
        batch.create_unique_constraint(op.f('uq_invoicing_prepayments_holds_credit_note_id'), ['holds_credit_note_id'])


def downgrade():
    with op.batch_alter_table('invoicing_prepayments') as batch:
        batch.drop_constraint('uq_invoicing_prepayments_holds_credit_note_id', type_='unique')
        batch.drop_constraint('uq_invoicing_prepayments_holds_deposit_id', type_='unique')
        batch.drop_constraint('fk_invoicing_prepayments_credit_note_id_invoicing_credit_notes', type_='foreignkey')
    op.execute(sa.text("DELETE FROM invoicing_prepayments WHERE deposit_invoice_id IS NULL"))
    op.execute(sa.text("DELETE FROM invoicing_prepayments WHERE holds_deposit_id IS NULL"))
    with op.batch_alter_table('invoicing_prepayments') as batch:
        batch.drop_column('released_at')
        batch.drop_column('holds_credit_note_id')
        batch.drop_column('holds_deposit_id')
        batch.drop_column('credit_note_id')
        batch.alter_column('deposit_invoice_id', existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint('uq_invoicing_prepayments_deposit_invoice_id', ['deposit_invoice_id'])
    op.drop_index(op.f('ix_invoicing_credit_note_lines_invoice_line_id'), table_name='invoicing_credit_note_lines')
    op.drop_index(op.f('ix_invoicing_credit_note_lines_credit_note_id'), table_name='invoicing_credit_note_lines')
    op.drop_table('invoicing_credit_note_lines')
    with op.batch_alter_table('invoicing_credit_notes') as batch:
        batch.drop_column('vat_breakdown')
        batch.drop_column('tax_minor')
        batch.drop_column('net_minor')
