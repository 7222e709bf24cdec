"""a random idempotency nonce on every connection and invoice

Stripe keeps idempotency keys per account for at least 24 hours
(https://docs.stripe.com/api/idempotent_requests). Keys built from database ids alone
(``invoicing-connect-1-0``, ``invoicing-checkout-1-0``) repeat across installations that share
a platform key and after a database reset, so one installation could be handed another's
Express account. Each row now carries a random ``idempotency_nonce`` that goes into its keys.

* ``invoicing_stripe_connections.idempotency_nonce`` and ``invoicing_invoices.idempotency_nonce``:
  32 hex characters, not null; existing rows get a fresh random value each.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_TABLES = ('invoicing_stripe_connections', 'invoicing_invoices')


def _fill(table_name):
    table = sa.table(table_name, sa.column('id', sa.Integer()), sa.column('idempotency_nonce', sa.String(32)))
    connection = op.get_bind()
    ids = connection.execute(sa.select(table.c.id)).scalars().all()
    if ids:
        connection.execute(
            table.update().where(table.c.id == sa.bindparam('row_id')).values(idempotency_nonce=sa.bindparam('nonce')),
            [{'row_id': row_id, 'nonce': secrets.token_hex(16)} for row_id in ids],
        )


def upgrade():
    for table_name in _TABLES:
        op.add_column(table_name, sa.Column('idempotency_nonce', sa.String(length=32), nullable=True))
        _fill(table_name)
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.alter_column('idempotency_nonce', existing_type=sa.String(length=32), nullable=False)


def downgrade():
    for table_name in reversed(_TABLES):
        with op.batch_alter_table(table_name, schema=None) as batch_op:
            batch_op.drop_column('idempotency_nonce')
