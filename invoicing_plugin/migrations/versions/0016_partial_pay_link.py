"""partial pay link: staff may let the client pay part of an invoice through its pay link

``invoicing_invoices`` gains ``allow_partial`` (boolean, false for every existing invoice:
their pay links keep asking for the whole balance) and ``partial_minimum_minor`` (the
least part the link accepts, minor units of the invoice's currency; NULL unless allowed).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.add_column(sa.Column('allow_partial', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column('partial_minimum_minor', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.drop_column('partial_minimum_minor')
        batch.drop_column('allow_partial')
