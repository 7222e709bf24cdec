"""reminders and viewed: payment reminder schedules, the steps sent, and when the client first looked (issue 16)

* ``invoicing_reminder_schedules``: one row per workspace -- whether reminders are on and
  the steps (days relative to the due date, canonical text ``"-3,0,7,14"``). No row: off.
* ``invoicing_invoice_reminders``: one row per reminder step sent for an invoice, unique
  ``(invoice_id, step)`` (the claim that makes ``send-reminders`` safe on several machines).
  Rows go with their invoice (``ON DELETE CASCADE``).
* ``invoicing_invoices.viewed_at``: when the client first opened the pay link or the
  portal page. Nullable; existing invoices were never seen as viewed: NULL, so no row moves.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_reminder_schedules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('offsets', sa.String(length=200), nullable=False),
        sa.Column('updated_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_reminder_schedules')),
        sa.UniqueConstraint('workspace_id', name=op.f('uq_invoicing_reminder_schedules_workspace_id')),
    )
    op.create_table(
        'invoicing_invoice_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('step', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_invoice_reminders_invoice_id_invoicing_invoices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_invoice_reminders')),
        sa.UniqueConstraint('invoice_id', 'step', name=op.f('uq_invoicing_invoice_reminders_invoice_id_step')),
    )
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.add_column(sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('invoicing_invoices') as batch:
        batch.drop_column('viewed_at')
    op.drop_table('invoicing_invoice_reminders')
    op.drop_table('invoicing_reminder_schedules')
