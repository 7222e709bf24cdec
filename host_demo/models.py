"""The demo's own tables (SQLAlchemy 2 typed models). None of them belongs to the plugin.

Money is stored as an integer amount in the currency's minor units (pence, cents).
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

ROLES = ("owner", "admin", "member")
MODES = ("consulting", "internal")
PLANS = ("starter", "pro", "team")


def _new_accept_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "demo_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", order_by="Membership.id")

    def set_password(self, password: str) -> None:
        # DEMO_PASSWORD_HASH_METHOD lets the test suite trade strength for speed.
        method = current_app.config.get("DEMO_PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class Workspace(db.Model):
    __tablename__ = "demo_workspaces"
    __table_args__ = (
        CheckConstraint(f"mode IN {MODES}", name="ck_demo_workspaces_mode"),
        CheckConstraint(f"plan IN {PLANS}", name="ck_demo_workspaces_plan"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    mode: Mapped[str] = mapped_column(String(20), default="consulting")
    plan: Mapped[str] = mapped_column(String(20), default="starter")
    # ISO 3166-1 alpha-2: where the business is established (its Stripe account's country).
    country: Mapped[str | None] = mapped_column(String(2), default="US")
    # IANA time zone: the workspace's calendar (due dates, overdue, "paid on", analytics days).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")

    memberships: Mapped[list[Membership]] = relationship(back_populates="workspace")


class Membership(db.Model):
    __tablename__ = "demo_memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "workspace_id"),
        CheckConstraint(f"role IN {ROLES}", name="ck_demo_memberships_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("demo_users.id"))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("demo_workspaces.id"))
    role: Mapped[str] = mapped_column(String(20), default="member")

    user: Mapped[User] = relationship(back_populates="memberships")
    workspace: Mapped[Workspace] = relationship(back_populates="memberships")

    @property
    def can_manage_billing(self) -> bool:
        return self.role in ("owner", "admin")


class Client(db.Model):
    __tablename__ = "demo_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("demo_workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(255))
    # The client's legal details, given to the plugin as the invoices' buyer (all optional).
    legal_name: Mapped[str | None] = mapped_column(String(200))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    post_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(32))

    workspace: Mapped[Workspace] = relationship()


#: Columns demo_clients gained after its first version (see add_missing_columns).
CLIENT_DETAIL_COLUMNS = {"legal_name": 200, "address_line1": 200, "city": 100, "post_code": 32, "country": 2,
                         "vat_id": 32}


class Proposal(db.Model):
    __tablename__ = "demo_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("demo_workspaces.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("demo_clients.id"))
    title: Mapped[str] = mapped_column(String(200))
    total_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    #: Approved internally by staff.
    approved: Mapped[bool] = mapped_column(default=False)
    #: When the client accepted it through the tokenized link.
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The secret in the client's accept link (/p/<token>).
    accept_token: Mapped[str] = mapped_column(String(64), unique=True, default=_new_accept_token)

    workspace: Mapped[Workspace] = relationship()
    client: Mapped[Client] = relationship()

    @property
    def accepted(self) -> bool:
        return self.accepted_at is not None


class Engagement(db.Model):
    __tablename__ = "demo_engagements"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("demo_workspaces.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("demo_clients.id"))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("demo_proposals.id"))
    title: Mapped[str] = mapped_column(String(200))

    workspace: Mapped[Workspace] = relationship()
    client: Mapped[Client] = relationship()
    proposal: Mapped[Proposal | None] = relationship()


def add_missing_columns() -> None:
    """Bring a demo database made by an older version up to date (``create_all`` only adds tables).

    The demo has no migrations of its own; ``demo_workspaces.country`` and ``.timezone`` came later,
    and the clients' legal details (``CLIENT_DETAIL_COLUMNS``) later still.
    """
    from sqlalchemy import inspect, text

    columns = {c["name"] for c in inspect(db.engine).get_columns("demo_workspaces")}
    if "country" not in columns:
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE demo_workspaces ADD COLUMN country VARCHAR(2)"))
            connection.execute(text("UPDATE demo_workspaces SET country = 'US'"))
    if "timezone" not in columns:
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE demo_workspaces ADD COLUMN timezone VARCHAR(64) DEFAULT 'UTC' NOT NULL"))
    client_columns = {c["name"] for c in inspect(db.engine).get_columns("demo_clients")}
    for name, length in CLIENT_DETAIL_COLUMNS.items():
        if name not in client_columns:
            with db.engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE demo_clients ADD COLUMN {name} VARCHAR({length})"))
