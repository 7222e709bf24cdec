"""indexes for the staff invoice list sorted by amount or due date

The list pages those sorts by keyset cursor (``amount_minor, id`` and
``due_date, id``), which needs an index that starts with the workspace (and,
for a status filter, the status) and ends with the sort key and the id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_INDEXES = (
    ('ix_invoicing_invoices_ws_amount', ['workspace_id', 'amount_minor', 'id']),
    ('ix_invoicing_invoices_ws_status_amount', ['workspace_id', 'status', 'amount_minor', 'id']),
    ('ix_invoicing_invoices_ws_due', ['workspace_id', 'due_date', 'id']),
    ('ix_invoicing_invoices_ws_status_due', ['workspace_id', 'status', 'due_date', 'id']),
)


def upgrade():
    for name, columns in _INDEXES:
        op.create_index(name, 'invoicing_invoices', columns, unique=False)


def downgrade():
    for name, _columns in reversed(_INDEXES):
        op.drop_index(name, table_name='invoicing_invoices')
