"""A tiny host: the README's app as an app factory. docs/testing-your-host.md tests it."""

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from invoicing_plugin import HostClient, HostUser, HostWorkspace, Invoicing, InvoicingHost
from invoicing_plugin.migrations import configure_flask_migrate

db = SQLAlchemy()
migrate = Migrate()


class Customer(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    email = db.Column(db.String(200), nullable=False)


def as_client(customer):
    return customer and HostClient(id=str(customer.id), name=customer.name, email=customer.email)


class Host(InvoicingHost):
    base_template = "layout.html"
    workspace = HostWorkspace(id="1", name="Acme", plan="pro")

    def current_workspace(self):
        return self.workspace

    def current_user(self):
        return HostUser(id="1", name="Ada", email="ada@acme.test")

    def can_manage_billing(self, user, workspace):
        return True

    def get_workspace(self, workspace_id):
        return self.workspace if workspace_id == "1" else None

    def get_client(self, workspace_id, client_id):
        mine = workspace_id == "1" and client_id.isdigit() and len(client_id) < 10
        return as_client(db.session.get(Customer, int(client_id))) if mine else None

    def list_clients(self, workspace_id):
        return [as_client(c) for c in db.session.scalars(db.select(Customer))] if workspace_id == "1" else []

    def get_subject(self, workspace_id, kind, subject_id):
        return None

    def list_subjects(self, workspace_id, kind=None):
        return []


invoicing = Invoicing(host=Host())
configure_flask_migrate(migrate)


def create_app(config=None):
    app = Flask(__name__)
    app.config.from_prefixed_env()
    app.config.update(config or {})  # every INVOICING_* setting before init_app, which reads them
    db.init_app(app)
    migrate.init_app(app, db)
    invoicing.init_app(app)
    return app
