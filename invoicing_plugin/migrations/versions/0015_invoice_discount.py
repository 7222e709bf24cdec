"""invoice discount: a document-level discount (EN 16931 BG-20, BT-107)

* ``invoicing_invoices`` gains ``discount_minor`` (BIGINT, NOT NULL, default 0): the
  discount off the whole invoice, without VAT, in minor units. Its per-rate allowances
  are derived from the stored line nets (services/lines.py), so no rows are added.
* Existing invoices get 0 (the server default): they had no document discount, so their
  stored totals stay exactly what they were.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.add_column(sa.Column('discount_minor', sa.BigInteger(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.drop_column('discount_minor')
