"""what a lost dispute took back, beside what was refunded

A dispute closed as ``lost`` (https://docs.stripe.com/disputes/how-disputes-work) means the
client's bank took the disputed amount back for good: it is no longer revenue.

* ``invoicing_invoices.amount_dispute_lost_minor``: BigInteger, not null, default 0.
* The revenue totals (``invoicing_invoice_totals``) subtract it; existing rows hold 0, so
  the totals need no rebuild.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoicing_invoices') as batch_op:
        batch_op.add_column(sa.Column('amount_dispute_lost_minor', sa.BigInteger(), nullable=False,
                                      server_default='0'))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch_op:
        batch_op.drop_column('amount_dispute_lost_minor')
