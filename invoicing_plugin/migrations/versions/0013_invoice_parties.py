"""invoice parties: the buyer's legal details, the seller as sent, and the invoice's dates

* ``invoicing_invoices`` gains the buyer (EN 16931 BG-7: ``buyer_name`` BT-44, the postal
  address BT-50..BT-55, ``buyer_vat_id`` BT-48, ``buyer_registration_id`` BT-47), a
  ``seller_snapshot`` (JSON: the seller's details frozen when the invoice is sent), the
  ``issue_date`` (BT-2), the supply date or period (``supply_date`` BT-72,
  ``supply_start``/``supply_end`` BT-73/74) and free-text ``payment_terms`` (BT-20).
* Existing invoices get ``buyer_name`` from ``client_name`` (the name they were issued
  to); the rest stays NULL: the host never gave the plugin a client's address before.
  Sent invoices keep no seller snapshot and no issue date: they print the live seller
  details and the day they were sent, as before this revision.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_COLUMNS = (
    ('buyer_name', sa.String(length=255)),
    ('buyer_address_line1', sa.String(length=200)),
    ('buyer_address_line2', sa.String(length=200)),
    ('buyer_city', sa.String(length=100)),
    ('buyer_post_code', sa.String(length=32)),
    ('buyer_country', sa.String(length=2)),
    ('buyer_vat_id', sa.String(length=32)),
    ('buyer_registration_id', sa.String(length=64)),
    ('seller_snapshot', sa.JSON()),
    ('issue_date', sa.Date()),
    ('supply_date', sa.Date()),
    ('supply_start', sa.Date()),
    ('supply_end', sa.Date()),
    ('payment_terms', sa.Text()),
)


def upgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.execute("UPDATE invoicing_invoices SET buyer_name = client_name")


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
