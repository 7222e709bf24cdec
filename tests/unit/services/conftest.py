"""Fast use-case tests: no Flask app, no Stripe emulator, no SMTP server, no database server.

Each test gets a :class:`~invoicing_plugin.services.uow.UnitOfWork` built from plain parts:
a SQLAlchemy session on an in-memory SQLite database created from the plugin's models
metadata (with the same session listeners the extension installs), a
:class:`~invoicing_plugin.testing.fake_host.FakeHost`, a
:class:`~invoicing_plugin.testing.fake_mailer.FakeMailer`, a fixed clock and the
default settings. The integration tests cover the same use cases through the app on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import NamedTuple

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from invoicing_plugin.config import apply_defaults
from invoicing_plugin.host import HostClient, HostSubject, HostWorkspace
from invoicing_plugin.persistence import appends, totals
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent, metadata
from invoicing_plugin.services.uow import UnitOfWork
from invoicing_plugin.testing.fake_host import FakeHost
from invoicing_plugin.testing.fake_mailer import FakeMailer

#: "Now" for every test here: a fixed instant, far from the wall clock.
NOW = datetime(2031, 3, 14, 9, 30, tzinfo=timezone.utc)
TODAY = NOW.date()

ACME, GLOBEX = "1", "2"


class FixedClock:
    """A clock that stays where it is put (aware UTC), for ``UnitOfWork(clock=...)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)

    def today(self) -> date:
        return self.now.date()


class Sender:
    """What signals are sent with (the Flask app, in production)."""

    def __repr__(self) -> str:
        return "<sender>"


@pytest.fixture
def session():
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    metadata.create_all(engine)
    db = Session(engine)
    appends.install(db)
    totals.install(db)
    yield db
    db.close()
    engine.dispose()


@pytest.fixture
def host() -> FakeHost:
    host = FakeHost()
    host.add_workspace(HostWorkspace(id=ACME, name="Acme Consulting", plan="pro"))
    host.add_workspace(HostWorkspace(id=GLOBEX, name="Globex", plan="starter"))
    host.add_workspace(HostWorkspace(id="3", name="Internal", mode="internal"))
    host.add_client(ACME, HostClient(id="10", name="Initech", email="billing@initech.test"))
    host.add_client(ACME, HostClient(id="11", name="Umbrella", email="ap@umbrella.test"))
    host.add_client(ACME, HostClient(id="12", name="No Mail Ltd", email=""))
    host.add_client(GLOBEX, HostClient(id="20", name="Hooli", email="pay@hooli.test"))
    host.add_subject(ACME, HostSubject(kind="proposal", id="100", title="Website rebuild", client_id="10",
                                       total_minor=1_000_000, currency="EUR", approved=True, accepted_by_client=True))
    host.add_subject(ACME, HostSubject(kind="proposal", id="101", title="Audit", client_id="10",
                                       total_minor=500_000, currency="EUR", approved=True, accepted_by_client=False))
    return host


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def settings():
    config: dict = {}
    apply_defaults(config)
    return MappingProxyType(config)


@pytest.fixture
def sender() -> Sender:
    return Sender()


@pytest.fixture
def uow(session, host, mailer, clock, settings, sender) -> UnitOfWork:
    """One unit of work, reused by every use case of a test (each call is one transaction)."""
    return UnitOfWork(session, host=host, mailer=mailer, clock=clock, settings=settings, sender=sender)


class Counts(NamedTuple):
    invoices: int
    events: int


def counts(session: Session) -> Counts:
    """What is committed (read after a rollback, so nothing pending is counted)."""
    session.rollback()
    return Counts(session.scalar(select(func.count()).select_from(Invoice)),
                  session.scalar(select(func.count()).select_from(InvoiceEvent)))
