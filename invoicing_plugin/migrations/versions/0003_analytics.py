"""indexes for the revenue analytics page

* ``ix_invoicing_invoices_ws_status_paid_cover`` replaces
  ``ix_invoicing_invoices_ws_status_paid``: the same key ``(workspace_id, status,
  paid_at)``, and on PostgreSQL it also carries (``INCLUDE``) the currency and the
  amounts the paid-revenue sums read, so that query is an index-only scan instead of
  one heap visit per paid invoice. Same key, so every query the old index served it
  serves too; replacing rather than adding keeps the write cost of an invoice change
  the same.
* ``ix_invoicing_invoices_ws_open``: ``(workspace_id, currency)`` over open invoices
  only (``status IN ('sent', 'processing')``), with status, due date and amount
  included on PostgreSQL: the outstanding/overdue figures read it alone. Partial, so
  it holds only the invoices still awaiting payment.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('sent', 'processing')")


def upgrade():
    op.drop_index('ix_invoicing_invoices_ws_status_paid', table_name='invoicing_invoices')
    op.create_index(
        'ix_invoicing_invoices_ws_status_paid_cover', 'invoicing_invoices', ['workspace_id', 'status', 'paid_at'],
        unique=False,
        postgresql_include=['currency', 'amount_paid_minor', 'amount_minor', 'amount_refunded_minor',
                            'application_fee_minor'],
    )
    op.create_index(
        'ix_invoicing_invoices_ws_open', 'invoicing_invoices', ['workspace_id', 'currency'], unique=False,
        postgresql_include=['status', 'due_date', 'amount_minor'],
        postgresql_where=_OPEN, sqlite_where=_OPEN,
    )


def downgrade():
    op.drop_index('ix_invoicing_invoices_ws_open', table_name='invoicing_invoices')
    op.drop_index('ix_invoicing_invoices_ws_status_paid_cover', table_name='invoicing_invoices')
    op.create_index('ix_invoicing_invoices_ws_status_paid', 'invoicing_invoices',
                    ['workspace_id', 'status', 'paid_at'], unique=False)
