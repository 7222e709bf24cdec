"""seller profiles: the workspace's legal details for its invoices (EN 16931 BG-4)

* ``invoicing_seller_profiles``: one row per workspace (unique ``workspace_id``) with
  the seller's legal and trading name, postal address and country, VAT and company
  registration ids, contact, default payment terms in days and an invoice footer,
  kept by the "Invoice settings" page. Existing installations start with no rows: the
  printable invoice then shows the host's prefill (``seller_details``), if any, or the
  workspace name as before.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_seller_profiles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('legal_name', sa.String(length=200), nullable=False),
        sa.Column('trading_name', sa.String(length=200), nullable=True),
        sa.Column('address_line1', sa.String(length=200), nullable=True),
        sa.Column('address_line2', sa.String(length=200), nullable=True),
        sa.Column('city', sa.String(length=100), nullable=True),
        sa.Column('post_code', sa.String(length=32), nullable=True),
        sa.Column('country', sa.String(length=2), nullable=False),
        sa.Column('vat_id', sa.String(length=32), nullable=True),
        sa.Column('registration_id', sa.String(length=64), nullable=True),
        sa.Column('contact_name', sa.String(length=200), nullable=True),
        sa.Column('contact_phone', sa.String(length=64), nullable=True),
        sa.Column('contact_email', sa.String(length=254), nullable=True),
        sa.Column('payment_terms_days', sa.Integer(), nullable=True),
        sa.Column('footer', sa.Text(), nullable=True),
        sa.Column('updated_by', sa.String(length=255), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_seller_profiles')),
        sa.UniqueConstraint('workspace_id', name=op.f('uq_invoicing_seller_profiles_workspace_id')),
    )


def downgrade():
    op.drop_table('invoicing_seller_profiles')
