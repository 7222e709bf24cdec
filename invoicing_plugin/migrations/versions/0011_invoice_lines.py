"""invoice lines and workspace tax rates (EN 16931 BG-25, BG-23, BG-22)

* ``invoicing_tax_rates``: a workspace's VAT rates (name, percent, category S/Z/E/AE,
  exemption or reverse-charge note, default, archived), kept on the Tax rates page.
* ``invoicing_invoice_lines``: an invoice's lines (position, description, quantity, unit,
  unit price and discount in minor units, VAT category and rate, exemption reason, the
  rate it came from, and the line net BT-131), deleted with their invoice.
* ``invoicing_invoices`` gains ``net_minor`` (BT-109, total without VAT), ``tax_minor``
  (BT-110) and ``prices_include_tax``; ``amount_minor`` keeps its meaning, the total
  with VAT (BT-112). ``invoicing_templates`` gains ``lines`` (JSON, typed text) and
  ``invoicing_seller_profiles`` gains ``prices_include_tax`` (the workspace's choice).
* Quantities and rates are exact decimals kept as canonical text (``String(32)``:
  ``"1.5"``, ``"20"``), see ``persistence.models.DecimalText``.
* Every existing invoice becomes ONE line, as ``domain.en16931.single_line`` makes it:
  its description, quantity 1, unit price = its amount, no discount, category ``O``
  ("Not subject to VAT", rate 0), net = its amount; and its ``net_minor`` = amount,
  ``tax_minor`` = 0. Written out in SQL here so this revision does not change when the
  code does (tests/integration/test_migrations.py checks it against the domain).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoicing_tax_rates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('rate', sa.String(length=32), nullable=False),
        sa.Column('category', sa.String(length=2), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('is_default', sa.Boolean(), nullable=False),
        sa.Column('archived', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_tax_rates')),
    )
    op.create_index('ix_invoicing_tax_rates_ws', 'invoicing_tax_rates', ['workspace_id', 'archived', 'id'])
    op.create_table(
        'invoicing_invoice_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('quantity', sa.String(length=32), nullable=False),
        sa.Column('unit', sa.String(length=32), nullable=False),
        sa.Column('unit_price_minor', sa.BigInteger(), nullable=False),
        sa.Column('discount_minor', sa.BigInteger(), nullable=False),
        sa.Column('vat_category', sa.String(length=2), nullable=False),
        sa.Column('vat_rate', sa.String(length=32), nullable=False),
        sa.Column('exemption_reason', sa.Text(), nullable=True),
        sa.Column('tax_rate_id', sa.Integer(), nullable=True),
        sa.Column('net_minor', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoicing_invoices.id'],
                                name=op.f('fk_invoicing_invoice_lines_invoice_id_invoicing_invoices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_invoice_lines')),
        sa.UniqueConstraint('invoice_id', 'position', name=op.f('uq_invoicing_invoice_lines_invoice_id_position')),
    )
    op.create_index(op.f('ix_invoicing_invoice_lines_invoice_id'), 'invoicing_invoice_lines', ['invoice_id'])

    op.add_column('invoicing_invoices', sa.Column('net_minor', sa.BigInteger(), nullable=True))
    op.add_column('invoicing_invoices', sa.Column('tax_minor', sa.BigInteger(), nullable=True))
    op.add_column('invoicing_invoices', sa.Column('prices_include_tax', sa.Boolean(), nullable=False,
                                                  server_default=sa.false()))
    op.add_column('invoicing_templates', sa.Column('lines', sa.JSON(), nullable=True))
    op.add_column('invoicing_seller_profiles', sa.Column('prices_include_tax', sa.Boolean(), nullable=False,
                                                         server_default=sa.false()))

    # Every existing invoice: one line without VAT (en16931.single_line), totals = its amount.
    op.execute(sa.text(
        "INSERT INTO invoicing_invoice_lines (invoice_id, workspace_id, position, description, quantity, unit,"
        " unit_price_minor, discount_minor, vat_category, vat_rate, exemption_reason, tax_rate_id, net_minor)"
        " SELECT id, workspace_id, 1, description, '1', '', amount_minor, 0, 'O', '0', 'Not subject to VAT',"
        " NULL, amount_minor FROM invoicing_invoices"
    ))
    op.execute(sa.text("UPDATE invoicing_invoices SET net_minor = amount_minor, tax_minor = 0"))
    with op.batch_alter_table('invoicing_invoices', schema=None) as batch_op:
        batch_op.alter_column('net_minor', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('tax_minor', existing_type=sa.BigInteger(), nullable=False)


def downgrade():
    with op.batch_alter_table('invoicing_seller_profiles', schema=None) as batch_op:
        batch_op.drop_column('prices_include_tax')
    with op.batch_alter_table('invoicing_templates', schema=None) as batch_op:
        batch_op.drop_column('lines')
    with op.batch_alter_table('invoicing_invoices', schema=None) as batch_op:
        batch_op.drop_column('prices_include_tax')
        batch_op.drop_column('tax_minor')
        batch_op.drop_column('net_minor')
    op.drop_index(op.f('ix_invoicing_invoice_lines_invoice_id'), table_name='invoicing_invoice_lines')
    op.drop_table('invoicing_invoice_lines')
    op.drop_index('ix_invoicing_tax_rates_ws', table_name='invoicing_tax_rates')
    op.drop_table('invoicing_tax_rates')
