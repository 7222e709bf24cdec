"""The app under test: host_demo with the plugin, plus two benchmark-only routes.

* ``POST /bench/floor`` -- the webhook floor: a bare route that verifies the same
  Stripe signature (the ``stripe`` SDK, the same Connect endpoint secret), parses the JSON, inserts one
  row and commits. Everything the plugin's webhook does beyond that is its cost.
* ``GET /bench/host-page`` -- a bare host page: signed-in, rendering a template of
  the same inheritance depth as a plugin page (page -> layout -> host ``base.html``)
  with the same number of table rows, from memory (no query of its own).

Both live on the same app as the plugin (same process, same host middleware, same
connection pool), so a ratio isolates what the plugin adds.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import stripe
from flask import Blueprint, Flask, current_app, render_template, request
from flask_login import login_required
from sqlalchemy import JSON, Column, DateTime, Integer, MetaData, String, Table, insert

PLATFORM_KEY = "sk_test_benchmark_platform_0001"
WEBHOOK_SECRET = "whsec_benchmark_platform_secret_0001"
#: The platform's Connect endpoint secret: the benchmark's events happen on connected
#: accounts (they carry ``account``), which Stripe sends to the Connect endpoint only.
CONNECT_WEBHOOK_SECRET = "whsec_benchmark_connect_secret_0001"
ENCRYPTION_KEY = "mY0AV2Ev8VoNLy6MeYVb5T_Gy0r1m2PBJ7lTqP3d7lY="

floor_metadata = MetaData()
floor_events = Table(
    "bench_floor_events",
    floor_metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(255), unique=True, nullable=False),
    Column("type", String(96), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

bp = Blueprint("bench", __name__, template_folder="templates", url_prefix="/bench")


@bp.post("/floor")
def floor():
    payload = request.get_data()
    try:
        stripe.WebhookSignature.verify_header(
            payload, request.headers.get("Stripe-Signature", ""), current_app.config["INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET"],
            tolerance=300,
        )
    except stripe.SignatureVerificationError:
        return {"error": "bad signature"}, 400
    event = json.loads(payload)
    from host_demo.models import db

    db.session.execute(
        insert(floor_events).values(
            event_id=event["id"], type=event["type"], payload=event, received_at=datetime.now(timezone.utc)
        )
    )
    db.session.commit()
    return {"received": True}


@bp.get("/host-page")
@login_required
def host_page():
    count = request.args.get("rows", 25, type=int)
    rows = [
        {"number": f"DOC-{i:05d}", "client": f"Client {i % 40}", "description": f"Security assessment {i}",
         "amount": f"£{(1000 + i * 7919 % 500000) / 100:,.2f}", "status": "sent"}
        for i in range(count)
    ]
    return render_template("bench/host_page.html", rows=rows)


def config(database_url: str, **overrides) -> dict:
    """Production-like settings (no DEBUG, no TESTING), pointed at ``database_url``."""
    values = {
        "SECRET_KEY": "benchmark-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
        "WTF_CSRF_ENABLED": False,  # GET pages only; the webhook is exempt anyway
        "DEMO_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "INVOICING_STRIPE_API_KEY": PLATFORM_KEY,
        # Nothing here calls Stripe; a closed port makes an accidental call fail fast.
        "INVOICING_STRIPE_API_BASE": "http://127.0.0.1:9",
        "INVOICING_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_WEBHOOK_SECRET,
        "INVOICING_STRIPE_MAX_NETWORK_RETRIES": 0,
        "INVOICING_SECRET_ENCRYPTION_KEY": ENCRYPTION_KEY,
        # The confirmation email is sent after the commit, over SMTP: not part of
        # handling the event, and no SMTP server is wanted here.
        "INVOICING_PAYMENT_CONFIRMATION_EMAIL": False,
    }
    values.update(overrides)
    return values


def make_app(database_url: str, **overrides) -> Flask:
    from host_demo import create_app, csrf

    app = create_app(config(database_url, **overrides))
    app.register_blueprint(bp)
    csrf.exempt(floor)
    return app


def wsgi_app() -> Flask:
    """For gunicorn (``benchmarks.app:wsgi_app()``): the database comes from BENCH_DATABASE_URL."""
    return make_app(os.environ["BENCH_DATABASE_URL"])
