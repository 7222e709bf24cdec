"""Addon metadata, Odoo style: pure declaration, read by tools and the CLI."""

MANIFEST = {
    "name": "invoicing_plugin",
    "version": "0.1.0",
    "summary": "Invoices with Stripe payments for any Flask app: drafts, templates, deposits, pay links, "
    "webhooks, client portal, revenue analytics.",
    "depends": ["flask", "flask_sqlalchemy", "flask_login", "flask_wtf", "stripe"],
    "host_contract": "invoicing_plugin.host.InvoicingHost",
    "init_hook": "invoicing_plugin.hooks.init_hook",
    "uninstall_hook": "invoicing_plugin.hooks.uninstall_hook",
    "migrations": "invoicing_plugin/migrations (Alembic branch label 'invoicing')",
}
