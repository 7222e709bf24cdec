"""host_demo: the reference host app (factory, auth, workspace scoping, accept link, seed)."""

from __future__ import annotations

import pytest
from flask import session

from host_demo import create_app
from host_demo.host import DemoHost
from host_demo.models import Proposal, db
from host_demo.seed import (
    add_member,
    create_client,
    create_engagement,
    create_proposal,
    create_user,
    create_workspace,
    seed_demo,
)
from invoicing_plugin import InvoicingHost


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "t.db"),
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
        }
    )
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def data(app):
    """Two consulting workspaces; owner@ is in Acme only, with a client, proposal and engagement in each."""
    with app.app_context():
        acme = create_workspace("Acme Security", plan="pro")
        north = create_workspace("Northwind Consulting")
        owner = create_user("owner@example.com", "Olivia Owner")
        member = create_user("member@example.com", "Mia Member")
        add_member(owner, acme, "owner")
        add_member(member, acme, "member")
        acme_client = create_client(acme, "Globex", "billing@globex.example")
        north_client = create_client(north, "Contoso", "ap@contoso.example")
        acme_proposal = create_proposal(acme, acme_client, "Pen test", 1_200_000, approved=True)
        north_proposal = create_proposal(north, north_client, "Audit", 500_000, currency="USD")
        acme_engagement = create_engagement(acme, acme_client, "Delivery", proposal=acme_proposal)
        north_engagement = create_engagement(north, north_client, "Review")
        db.session.commit()
        return {
            "acme": (acme.id, acme.slug),
            "north": (north.id, north.slug),
            "acme_client": acme_client.id,
            "north_client": north_client.id,
            "acme_proposal": acme_proposal.id,
            "north_proposal": north_proposal.id,
            "acme_token": acme_proposal.accept_token,
            "acme_engagement": acme_engagement.id,
            "north_engagement": north_engagement.id,
        }


def login(client, email="owner@example.com", password="password"):
    return client.post("/login", data={"email": email, "password": password})


def test_factory_reads_flask_env_vars(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_SECRET_KEY", "from-env")
    monkeypatch.setenv("FLASK_INVOICING_PAGE_SIZE", "10")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "e.db")})
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.config["INVOICING_PAGE_SIZE"] == 10
    # The config argument wins over the environment.
    app = create_app({"TESTING": True, "SECRET_KEY": "arg", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "arg"


def test_demo_host_satisfies_the_contract():
    assert isinstance(DemoHost(), InvoicingHost)
    assert DemoHost.base_template == "base.html"


def test_login_with_right_and_wrong_password(app, data):
    client = app.test_client()
    response = login(client, password="nope")
    assert response.status_code == 200
    assert b"Wrong email or password" in response.data
    assert client.get("/").status_code == 302  # still anonymous: sent to /login

    response = login(client)
    assert response.status_code == 302 and response.location == "/"
    page = client.get("/")
    assert page.status_code == 200 and b"Acme Security" in page.data

    client.post("/logout")
    assert client.get("/").status_code == 302


def test_login_does_not_redirect_off_site(app, data):
    response = app.test_client().post(
        "/login?next=//evil.example/x", data={"email": "owner@example.com", "password": "password"}
    )
    assert response.location == "/"


def test_workspace_pages_need_login_and_membership(app, data):
    client = app.test_client()
    acme_slug, north_slug = data["acme"][1], data["north"][1]
    assert client.get(f"/w/{acme_slug}/clients").status_code == 302  # to /login
    login(client)
    assert client.get(f"/w/{acme_slug}/clients").status_code == 200
    assert client.get(f"/w/{acme_slug}/clients/{data['acme_client']}").status_code == 200
    assert client.get(f"/w/{acme_slug}/proposals/{data['acme_proposal']}").status_code == 200
    assert client.get(f"/w/{acme_slug}/engagements/{data['acme_engagement']}").status_code == 200
    # Another workspace's slug, or its object ids under our slug: 404.
    assert client.get(f"/w/{north_slug}/clients").status_code == 404
    assert client.get(f"/w/{north_slug}").status_code == 404
    assert client.get(f"/w/{acme_slug}/clients/{data['north_client']}").status_code == 404
    assert client.get(f"/w/{acme_slug}/proposals/{data['north_proposal']}").status_code == 404
    assert client.get(f"/w/{acme_slug}/engagements/{data['north_engagement']}").status_code == 404
    assert client.post(f"/w/{acme_slug}/proposals/{data['north_proposal']}/approve").status_code == 404


def test_demo_host_is_scoped_by_workspace(app, data):
    host = DemoHost()
    acme_id, north_id = str(data["acme"][0]), str(data["north"][0])
    with app.test_request_context():
        assert host.get_client(acme_id, str(data["acme_client"])).email == "billing@globex.example"
        assert host.get_client(acme_id, str(data["north_client"])) is None
        assert host.get_client(acme_id, "not-an-id") is None
        assert host.get_client("x", str(data["acme_client"])) is None
        assert [c.name for c in host.list_clients(acme_id)] == ["Globex"]

        subject = host.get_subject(acme_id, "proposal", str(data["acme_proposal"]))
        assert (subject.total_minor, subject.currency, subject.approved, subject.accepted_by_client) == (
            1_200_000, "GBP", True, False,
        )
        assert subject.client_id == str(data["acme_client"]) and subject.url.endswith(f"/proposals/{subject.id}")
        assert host.get_subject(acme_id, "proposal", str(data["north_proposal"])) is None
        assert host.get_subject(acme_id, "engagement", str(data["acme_engagement"])).kind == "engagement"
        assert host.get_subject(acme_id, "project", "1") is None
        assert {s.kind for s in host.list_subjects(acme_id)} == {"proposal", "engagement"}
        assert host.get_workspace(north_id).name == "Northwind Consulting"
        assert host.current_workspace() is None and host.current_user() is None  # anonymous


def test_current_workspace_and_billing_rights(app, data):
    host = DemoHost()
    client = app.test_client()
    with client:
        login(client)
        client.get("/")
        workspace, user = host.current_workspace(), host.current_user()
        assert workspace.name == "Acme Security" and workspace.plan == "pro"
        assert host.can_manage_billing(user, workspace)
        assert "workspace_id" not in session  # never switched: the first membership
        client.get(f"/w/{data['acme'][1]}")
        assert session["workspace_id"] == data["acme"][0]
    with client:
        login(client, "member@example.com")
        client.get("/")
        assert not host.can_manage_billing(host.current_user(), host.current_workspace())


def test_accept_link_accepts_once(app, data):
    client = app.test_client()  # the client is not signed in
    url = f"/p/{data['acme_token']}"
    assert b"Accept proposal" in client.get(url).data
    assert client.post(url).status_code == 302
    with app.app_context():
        first = db.session.get(Proposal, data["acme_proposal"]).accepted_at
    assert first is not None
    client.post(url)
    with app.app_context():
        assert db.session.get(Proposal, data["acme_proposal"]).accepted_at == first
    page = client.get(url)
    assert b"Accept proposal" not in page.data and b"Accepted on" in page.data
    assert client.get("/p/wrong-token").status_code == 404


def test_seed_is_idempotent(app):
    with app.app_context():
        first = seed_demo()
        db.session.commit()
        counts = {name: len(db.session.scalars(db.select(model)).all()) for name, model in _models().items()}
        second = seed_demo()
        db.session.commit()
        assert {name: len(db.session.scalars(db.select(model)).all()) for name, model in _models().items()} == counts
        assert set(first["workspaces"]) == set(second["workspaces"]) == {
            "acme-security", "northwind-consulting", "internal-tools",
        }
        assert second["workspaces"]["internal-tools"].mode == "internal"
        assert counts["Proposal"] >= 3


def test_seed_cli(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["seed"])
        assert result.exit_code == 0, result.output
        assert "owner@example.com / password" in result.output


def _models():
    from host_demo import models

    return {name: getattr(models, name) for name in ("User", "Workspace", "Membership", "Client", "Proposal", "Engagement")}


def test_demo_without_a_mail_server_catches_invoice_emails_in_its_outbox(tmp_path, monkeypatch):
    """The demo's local SMTP sink: a real SMTP round trip, readable at /outbox."""
    import smtplib

    from tests.support.postgres import free_port

    port = free_port()
    monkeypatch.setenv("DEMO_SMTP_PORT", str(port))
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'outbox.db'}",
        "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False, "DEBUG": True,
        "INVOICING_STRIPE_API_KEY": "sk_test_outbox00000001",
    })
    try:
        assert (app.config["INVOICING_MAIL_SERVER"], app.config["INVOICING_MAIL_PORT"]) == ("127.0.0.1", port)
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.sendmail("billing@host-demo.local", ["client@example.com"],
                          "Subject: Invoice INV-0001\r\nTo: client@example.com\r\n\r\nPay online: http://x.test/pay/t")
        with app.app_context():
            db.create_all()
            create_user("owner@example.com", "Olivia Owner")
            db.session.commit()
        client = app.test_client()
        client.post("/login", data={"email": "owner@example.com", "password": "password"})
        page = client.get("/outbox/").get_data(as_text=True)
        assert "Invoice INV-0001" in page and "client@example.com" in page
    finally:
        app.extensions["host_demo.mail_sink"].stop()
        with app.app_context():
            db.engine.dispose()


def test_demo_public_url_is_the_external_url_unless_set(monkeypatch, tmp_path):
    """newuser16 N5: scripts/demo.sh and the README's CLI block export DEMO_PUBLIC_URL; the demo
    uses it as INVOICING_EXTERNAL_URL so `flask invoicing send-reminders` can build pay links."""
    database = "sqlite:///" + str(tmp_path / "u.db")
    monkeypatch.setenv("DEMO_PUBLIC_URL", "http://127.0.0.1:5071/")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database})
    assert app.config["INVOICING_EXTERNAL_URL"] == "http://127.0.0.1:5071"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database,
                      "INVOICING_EXTERNAL_URL": "https://billing.example.com"})
    assert app.config["INVOICING_EXTERNAL_URL"] == "https://billing.example.com"
    monkeypatch.delenv("DEMO_PUBLIC_URL")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database})
    assert not app.config.get("INVOICING_EXTERNAL_URL")
