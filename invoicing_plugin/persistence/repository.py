"""Workspace scoping in one place.

Every query on a workspace-owned table goes through :class:`WorkspaceRepository`,
which adds ``workspace_id = :current`` itself. Looking up another workspace's id
therefore finds nothing, and the web layer turns that into a 404. Code outside
this module does not write ``.where(Model.workspace_id == ...)`` by hand.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..domain.errors import InvoicingError
from .models import Base, StripeConnection

M = TypeVar("M", bound=Base)


def insert_on_conflict(dialect: str):
    """The ``insert()`` construct of ``dialect`` that has ``on_conflict_do_*`` (PostgreSQL,
    SQLite), or ``None`` for a backend without ``INSERT ... ON CONFLICT``."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other backends
        return None
    return insert


class NotFound(InvoicingError, LookupError):
    """The object does not exist in this workspace (it may exist in another).

    An :class:`~invoicing_plugin.domain.errors.InvoicingError` (so ``except
    InvoicingError`` catches it too, with a ``message`` such as ``Invoice 42 was not
    found.``) and still a ``LookupError``. ``what`` names what was looked up
    (``Invoice 42``, ``pay link``); ``str()`` is that name, as it always was. The staff
    pages answer it with the host's 404 page, not a message.
    """

    def __init__(self, what: str) -> None:
        what = str(what)
        super().__init__(f"{what[:1].upper()}{what[1:]} was not found.")
        self.what = what
        self.args = (what,)


#: The largest primary key the plugin's tables can hold: their ids are PostgreSQL
#: ``integer`` columns (SQLite would take up to 2**63 - 1, but the answer must be the
#: same on every database). Larger numbers name nothing; they never reach a query.
MAX_ID = 2**31 - 1


def as_id(value) -> int | None:
    """``value`` (an int or its text) as a primary key from 1 to :data:`MAX_ID`, else ``None``.

    ``None`` for anything that cannot be an id of ours: not a whole number written in
    ASCII digits, zero or negative, beyond :data:`MAX_ID`, or text too long to read as a number. The
    database is never asked about such a value (PostgreSQL refuses numbers beyond
    ``integer`` and SQLite those beyond 64 bits with an error, not an empty result).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        # ASCII digits only, as the URL rules' <int:...> read them: int() would also take
        # other scripts' digits ("١" is 1), so a form could name a row no URL can.
        if len(value) > 40 or not (value.isascii() and value.isdigit()):
            return None
    elif not isinstance(value, int):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None


class WorkspaceRepository:
    def __init__(self, session: Session, workspace_id: str) -> None:
        if not workspace_id:
            raise ValueError("a workspace id is required")
        self.session = session
        self.workspace_id = str(workspace_id)

    def select(self, model: type[M], *columns) -> Select:
        """``SELECT`` from ``model`` (or the given columns of it) limited to this workspace."""
        stmt = select(*columns) if columns else select(model)
        return stmt.where(model.workspace_id == self.workspace_id)

    def get(self, model: type[M], object_id, *, for_update: bool = False) -> M:
        """The object with this primary key in this workspace, or :class:`NotFound`."""
        key = as_id(object_id)
        if key is None:
            raise NotFound(f"{model.__name__} {str(object_id)[:40]!r}")
        stmt = self.select(model).where(model.id == key)
        if for_update:
            stmt = stmt.with_for_update()
        found = self.session.scalars(stmt).one_or_none()
        if found is None:
            raise NotFound(f"{model.__name__} {object_id!r}")
        return found

    def find(self, model: type[M], **filters) -> M | None:
        stmt = self.select(model).filter_by(**filters)
        return self.session.scalars(stmt.limit(1)).first()

    def list(self, model: type[M], *criteria, order_by=None) -> list[M]:
        stmt = self.select(model).where(*criteria)
        if order_by is not None:
            stmt = stmt.order_by(order_by)
        return list(self.session.scalars(stmt))

    def add(self, obj: M) -> M:
        """Attach a new object to this workspace (its ``workspace_id`` is set here)."""
        obj.workspace_id = self.workspace_id
        self.session.add(obj)
        return obj


def find_connection_by_account(session: Session, account_id: str, *, for_update: bool = False):
    """The *linked* Stripe connection of ``account_id`` in any workspace, or ``None``.

    The one workspace-agnostic lookup: Stripe webhooks about an account
    (``account.updated``, ``account.application.deauthorized``) arrive without a
    current workspace, and the account id is what identifies it. Disconnected
    rows keep their old account id for the record but are never returned, so a
    late event about a removed account changes nothing.
    """
    if not account_id:
        return None
    stmt = (
        select(StripeConnection)
        .where(StripeConnection.account_id == account_id, StripeConnection.status != "disconnected")
        .order_by(StripeConnection.id)
        .limit(1)
    )
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalars(stmt).first()
