"""fees taken: the platform fees an invoice's Stripe payments carried, cached on the invoice (issue 15)

* ``invoicing_invoices.fees_taken_minor``: the sum of the invoice's ``invoicing_payments``
  rows' ``application_fee_minor`` (NULL counts 0), kept in step with every payment row written
  (``services.payment_rows.record_payment``). A part paid through the pay link takes at most the
  locked fee less this (``domain.fees.fee_of_part``), read from the invoice row the webhook
  already locks (no extra query on its hot path); the analytics count it as the fee taken.
* Existing invoices: filled from their payment rows (a data migration, one ``UPDATE``).
* The analytics totals' ``paid`` rows are recomputed: from this revision on each payment
  counts on the day it was received with the fee taken from it, the invoice adding its
  count and its refunds/lost disputes on its paid day (``domain.totals``). Written out here
  with the same definition as ``persistence.totals.rebuild`` (so this revision does not
  change when the code does), in UTC days as revision 0004: a workspace in another time zone
  runs ``flask invoicing totals --rebuild`` after upgrading (docs/portal-and-analytics.md).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


#: domain.statuses at this revision: REVENUE, and the statuses whose money received is kept
#: (REVENUE + awaiting money).
_REVENUE = "('partially_paid', 'paid')"
_KEPT = "('sent', 'processing', 'partially_paid', 'paid')"


def _paid_sql(dialect: str) -> str:
    if dialect == 'postgresql':
        def day(column):
            return f"CAST(({column} AT TIME ZONE 'UTC') AS DATE)"
    else:
        def day(column):
            return f"date({column})"
    return f"""
        INSERT INTO invoicing_invoice_totals
            (workspace_id, measure, day, status, currency, invoices, amount_minor, fee_minor)
        SELECT workspace_id, 'paid', day, '', currency, SUM(n), SUM(amount), SUM(fee)
          FROM (
            SELECT workspace_id, {day('paid_at')} AS day, currency,
                   CASE WHEN status IN {_REVENUE} THEN 1 ELSE 0 END AS n,
                   CASE WHEN status IN {_KEPT} THEN COALESCE(amount_paid_minor, amount_minor)
                        - COALESCE(amount_refunded_minor, 0) - COALESCE(amount_dispute_lost_minor, 0) ELSE 0 END
                   - COALESCE(amount_paid_minor, 0) AS amount,
                   CASE WHEN status IN {_KEPT} THEN 0 ELSE -fees_taken_minor END AS fee
              FROM invoicing_invoices WHERE paid_at IS NOT NULL
            UNION ALL
            SELECT workspace_id, {day('received_at')}, currency, 0, amount_minor, COALESCE(application_fee_minor, 0)
              FROM invoicing_payments
          ) parts
         GROUP BY workspace_id, day, currency
    """


def upgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.add_column(sa.Column('fees_taken_minor', sa.BigInteger(), nullable=False, server_default='0'))
    invoices = sa.table('invoicing_invoices', sa.column('id', sa.Integer()),
                        sa.column('fees_taken_minor', sa.BigInteger()))
    payments = sa.table('invoicing_payments', sa.column('invoice_id', sa.Integer()),
                        sa.column('application_fee_minor', sa.BigInteger()))
    taken = (sa.select(sa.func.coalesce(sa.func.sum(payments.c.application_fee_minor), 0))
             .where(payments.c.invoice_id == invoices.c.id).scalar_subquery())
    has_fee = sa.exists().where(payments.c.invoice_id == invoices.c.id,
                                payments.c.application_fee_minor.is_not(None))
    op.execute(invoices.update().where(has_fee).values(fees_taken_minor=taken))
    op.execute("DELETE FROM invoicing_invoice_totals WHERE measure = 'paid'")
    op.execute(_paid_sql(op.get_bind().dialect.name))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.drop_column('fees_taken_minor')
