"""The unit of work: one transaction per use case, its collaborators, signals only after it commits.

Like cosmicpython's, the unit of work carries what a use case needs from outside
itself, so a use case reaches for no global:

* ``session``: the SQLAlchemy session (one transaction per ``with`` block);
* ``host``: the host app's :class:`~invoicing_plugin.host.InvoicingHost`;
* ``gateways``: the payment provider, one per API key (the port's
  :class:`~invoicing_plugin.services.ports.PaymentProviders`; in production the Stripe
  :class:`~invoicing_plugin.gateways.stripe_gateway.GatewayRegistry`);
* ``secret_box``: decrypts and encrypts the stored Stripe secrets;
* ``mailer``: anything with ``send(OutgoingEmail) -> message id`` that raises
  :class:`~invoicing_plugin.gateways.mail.MailError` on failure; only the outbox's
  deliverer (:mod:`.outbox`) calls it -- use cases queue their emails in the outbox;
* ``clock``: a callable returning the current time as an aware UTC ``datetime``
  (:meth:`UnitOfWork.today` is its date in a workspace's time zone: the reference for
  due dates, overdue and mark-paid limits; :meth:`UnitOfWork.workspace_today` looks the
  workspace's zone up from the host);
* ``settings``: a read-only mapping of the ``INVOICING_*`` configuration;
* ``sender``: what signals are sent with (the Flask app).

:meth:`UnitOfWork.for_app` builds one from the Flask app and its plugin state; it is
the one place in the services that reads :func:`~invoicing_plugin.state.get_state`
or ``current_app.config``. Tests build one from plain parts (a session on an
in-memory database, a fake host, the ``FakeMailer`` of ``testing/fake_mailer.py``,
a fixed clock). What still needs the Flask app whatever the unit of work holds:
rendering email templates and building absolute links (``url_for``).

Use cases open the unit of work (``with uow:``), change rows through the session,
queue the signals they want to send with :meth:`UnitOfWork.emit`, and call
:meth:`UnitOfWork.commit`. Leaving the block without committing (or with an
exception) rolls everything back and drops the queued signals, so a host never
hears about a change that did not happen.

Reuse: each ``with`` block is one transaction. The same unit of work may be entered
again after a block has ended (the next use case of a script or a test); each entry
starts with no queued signals and "not committed". Entering it while a block is
still open raises :class:`RuntimeError` (a nested block would commit or roll back
its caller's transaction); for a separate transaction meanwhile (recording a failed
attempt after rolling back) use :meth:`UnitOfWork.fresh`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime, timezone, tzinfo
from typing import Any, Callable, Protocol, TypeVar

from blinker import Signal
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.exc import StaleDataError

from ..domain.calendar import UTC, as_zone, local_day
from ..gateways.mail import Mailer, OutgoingEmail
from ..host import workspace_zone
from ..persistence import totals as kept_totals
from ..persistence.repository import WorkspaceRepository
from .ports import PaymentProvider, PaymentProviders
from ..state import get_state

__all__ = [
    "AppSettings",
    "MailerLike",
    "UnitOfWork",
    "retry_on_conflict",
    "system_clock",
    "wall_today",
]

#: The prefix of every configuration key the plugin reads.
SETTINGS_PREFIX = "INVOICING_"


def system_clock() -> datetime:
    """The wall clock: now, as an aware UTC ``datetime``."""
    return datetime.now(timezone.utc)


def wall_today(zone: Any = None) -> date:
    """Today in ``zone`` (``None``: UTC) by :func:`system_clock`, for callers without a unit of work."""
    return local_day(system_clock(), as_zone(zone))


class MailerLike(Protocol):
    """What the services need of a mailer (:class:`~invoicing_plugin.gateways.mail.Mailer`)."""

    def send(self, email: OutgoingEmail) -> str: ...


class AppSettings(Mapping):
    """The ``INVOICING_*`` keys of a Flask config, read-only and live (no copy is made)."""

    def __init__(self, config: Mapping) -> None:
        self._config = config

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or not key.startswith(SETTINGS_PREFIX):
            raise KeyError(key)
        return self._config[key]

    def __iter__(self) -> Iterator[str]:
        return (key for key in list(self._config) if isinstance(key, str) and key.startswith(SETTINGS_PREFIX))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _ConfiguredMailer:
    """The SMTP :class:`Mailer` of ``settings``, built when a message is sent.

    As before the unit of work existed, the mail settings are read at send time.
    """

    def __init__(self, settings: Mapping) -> None:
        self._settings = settings

    def send(self, email: OutgoingEmail) -> str:
        return Mailer(self._settings).send(email)


class UnitOfWork:
    """One transaction at a time on ``session``, with the use case's collaborators.

    Only ``session`` is required (the webhook path and older callers pass just it);
    a collaborator that was not given raises :class:`RuntimeError` when asked for,
    except ``clock`` (default: the wall clock), ``settings`` (default: empty) and
    ``sender`` (default: the current Flask app, read at commit).
    """

    def __init__(
        self,
        session: Session,
        *,
        host: Any = None,
        gateways: PaymentProviders | None = None,
        secret_box: Any = None,
        mailer: MailerLike | None = None,
        clock: Callable[[], datetime] | None = None,
        settings: Mapping[str, Any] | None = None,
        sender: Any = None,
    ) -> None:
        self.session = session
        self._host = host
        self._gateways = gateways
        self._secret_box = secret_box
        self._mailer = mailer
        self.clock: Callable[[], datetime] = clock or system_clock
        self.settings: Mapping[str, Any] = settings if settings is not None else {}
        self._sender = sender
        self._signals: list[tuple[Signal, dict[str, Any] | Callable[[], dict[str, Any]]]] = []
        self._committed = False
        self._active = False

    # -- building ---------------------------------------------------------------------

    @classmethod
    def for_app(cls, app: Flask | None = None) -> "UnitOfWork":
        """The unit of work of ``app`` (default: the current app), with the app's collaborators.

        The one place in the services that reads the plugin's state and the app's config.
        """
        app = app or current_app._get_current_object()
        state = get_state(app)
        settings = AppSettings(app.config)
        return cls(
            state.session,
            host=state.host,
            gateways=state.gateways,
            secret_box=state.secret_box,
            mailer=_ConfiguredMailer(settings),
            settings=settings,
            sender=app,
        )

    def fresh(self) -> "UnitOfWork":
        """Another unit of work with the same collaborators (the same session too).

        For a separate transaction while this one's block is open, after rolling it
        back: e.g. recording a failed attempt that must survive the rollback.
        """
        return type(self)(
            self.session, host=self._host, gateways=self._gateways, secret_box=self._secret_box,
            mailer=self._mailer, clock=self.clock, settings=self.settings, sender=self._sender,
        )

    # -- collaborators ----------------------------------------------------------------

    @property
    def host(self) -> Any:
        return self._required(self._host, "host")

    @property
    def gateways(self) -> PaymentProviders:
        return self._required(self._gateways, "gateways")

    @property
    def secret_box(self) -> Any:
        return self._required(self._secret_box, "secret_box")

    @property
    def mailer(self) -> MailerLike:
        return self._required(self._mailer, "mailer")

    @staticmethod
    def _required(value: Any, name: str) -> Any:
        if value is None:
            raise RuntimeError(f"This unit of work was built without a {name}.")
        return value

    def repository(self, workspace_id: Any) -> WorkspaceRepository:
        """A repository of ``workspace_id``'s rows on this unit of work's session."""
        return WorkspaceRepository(self.session, str(workspace_id))

    def today(self, zone: Any = None) -> date:
        """Today's date by :attr:`clock` in ``zone``: the reference for due dates, overdue
        and mark-paid limits.

        ``zone``: a :class:`~invoicing_plugin.host.HostWorkspace` (its ``timezone``), a
        ``tzinfo`` or an IANA name; ``None`` is UTC. Services always pass the workspace's
        (``tests/unit/test_no_naive_today.py`` refuses a ``today`` without a zone there).
        """
        return local_day(self.clock(), as_zone(zone))

    def zone(self, workspace_id: Any) -> tzinfo:
        """The time zone of ``workspace_id`` by the host, asked now (UTC when the host does not know it)."""
        if workspace_id is None:
            return UTC
        return workspace_zone(self.host, str(workspace_id), max_age=0)

    def workspace_today(self, workspace_id: Any) -> date:
        """Today's date in ``workspace_id``'s time zone (see :meth:`today`)."""
        return self.today(self.zone(workspace_id))

    def platform_gateway(self) -> PaymentProvider:
        """The gateway for the platform key (``INVOICING_STRIPE_API_KEY``, Connect)."""
        return self.gateways.for_key(self.settings["INVOICING_STRIPE_API_KEY"])

    # -- the transaction --------------------------------------------------------------

    def __enter__(self) -> "UnitOfWork":
        if self._active:
            raise RuntimeError("This unit of work is already open; use uow.fresh() for a separate transaction.")
        self._active = True
        self._committed = False
        self._signals = []
        if self._host is not None:  # the kept analytics totals count days in each workspace's zone
            kept_totals.use_zones(self.session, self._zone_or_utc)
        return self

    def _zone_or_utc(self, workspace_id: str) -> tzinfo:
        try:  # for the kept totals: what the host said a moment ago will do (see host.workspace_zone)
            return workspace_zone(self.host, workspace_id)
        except Exception:  # noqa: BLE001 - a host failure must not break a write; the drift check reports it
            return UTC

    def __exit__(self, exc_type, exc, tb) -> None:
        self._active = False
        if not self._committed:
            self.session.rollback()
            self._signals.clear()

    def emit(self, signal: Signal, **kwargs: Any) -> None:
        self._signals.append((signal, kwargs))

    def emit_after_commit(self, signal: Signal, build: Callable[[], dict[str, Any]]) -> None:
        """Send ``signal`` after the commit with the keyword arguments ``build()`` returns then,
        called only when the signal has receivers. For a snapshot read once the write is in
        (the webhook's hot path holds a plain row, not the invoice's lines and payments)."""
        self._signals.append((signal, build))

    def commit(self) -> None:
        session = self.session() if isinstance(self.session, scoped_session) else self.session
        # No transaction and nothing pending (a webhook event written in autocommit mode
        # beside the session): nothing to commit.
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            session.commit()
        self._committed = True
        signals, self._signals = self._signals, []
        if not signals:
            return
        sender = self._sender if self._sender is not None else current_app._get_current_object()
        for signal, kwargs in signals:
            if callable(kwargs):
                if not signal.receivers:
                    continue
                kwargs = kwargs()
            signal.send(sender, **kwargs)

    def rollback(self) -> None:
        self.session.rollback()
        self._signals.clear()


T = TypeVar("T")


def retry_on_conflict(operation: Callable[[], T], *, attempts: int = 3) -> T:
    """Run ``operation`` (a whole unit of work) again if another writer won the race.

    Invoices carry a version number: where rows cannot be locked (SQLite), two
    writers recording the same payment at once -- the webhook and the pay link's
    return -- meet as a version conflict at commit (``StaleDataError``), or on a unique
    row both write (``IntegrityError``: one payment row per PaymentIntent). The loser's
    transaction is rolled back (``operation`` runs in its own unit of work); running it
    again against the fresh rows finds the work already done. After ``attempts``
    conflicts the error propagates.
    """
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except (StaleDataError, IntegrityError):
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
