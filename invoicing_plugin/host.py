"""The host contract: everything the plugin learns about the host app, in one place.

A host app mounts the plugin with ``Invoicing(app, host=MyHost())`` where ``MyHost``
implements :class:`InvoicingHost`. The plugin never imports host code and never
touches host tables: host objects reach it only as the small frozen dataclasses
defined here (:class:`HostUser`, :class:`HostWorkspace`, :class:`HostClient`,
:class:`HostSubject`). Ids are passed as strings, whatever type the host uses,
so integer and UUID primary keys work alike.

Every method is called inside a request (or an app context the host set up) and
must be cheap: the plugin calls ``current_workspace()`` and ``current_user()`` on
most requests. Methods that look things up by id receive the workspace id too and
must return ``None`` when the object does not belong to that workspace — that is
how cross-workspace ids end up as 404 pages.

Minimal example::

    class MyHost(InvoicingHost):
        base_template = "layout.html"

        def current_workspace(self):
            ws = g.workspace
            return HostWorkspace(id=str(ws.id), name=ws.name, mode="consulting", plan=ws.plan,
                                 timezone=ws.timezone)  # IANA name, e.g. "Europe/London"

        def current_user(self):
            if not current_user.is_authenticated:
                return None
            return HostUser(id=str(current_user.id), name=current_user.name, email=current_user.email)

        def can_manage_billing(self, user, workspace):
            return membership_role(user.id, workspace.id) in {"owner", "admin"}

        def get_client(self, workspace_id, client_id): ...
        def list_clients(self, workspace_id): ...
        def get_subject(self, workspace_id, kind, subject_id): ...
        def list_subjects(self, workspace_id, kind=None): ...
        def get_workspace(self, workspace_id): ...

Optional: a host that lets clients sign in may also implement
``current_client(self) -> HostClientIdentity | None`` (see :class:`ClientLoginHost`).
The client portal then works from the host's own login as well as from the
per-client link; hosts without client logins simply leave it out.

Optional: ``seller_details(self, workspace) -> HostSellerDetails | None`` prefills the
workspace's legal details as the seller on its invoices (see :class:`SellerDetailsHost`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, Callable, Literal, Protocol, Sequence, runtime_checkable
from weakref import finalize

from .domain.calendar import UTC, UnknownTimeZone, as_zone  # noqa: F401 (UnknownTimeZone: part of the contract)
from .domain.country import postal_address_lines

WorkspaceMode = Literal["consulting", "internal"]
"""``consulting`` (the default) bills clients; ``internal`` workspaces do not: every
invoicing page answers 404 there and :func:`~invoicing_plugin.web.templating.invoicing_links`
is empty. Any other value raises ``ValueError`` when the workspace is built."""

WORKSPACE_MODES: tuple[str, ...] = ("consulting", "internal")

Plan = Literal["starter", "pro", "team"]
"""The workspace's subscription plan: a key of ``INVOICING_PLAN_FEES_BPS``, which maps
each plan to the platform's application fee on payments through Stripe Connect (by
default ``starter`` 400 bps = 4 %, ``pro`` 350, ``team`` 200; a host may configure its
own plan names). Default ``"starter"``. A plan missing from the setting makes sending
for payment through Connect fail (never a silent 0 %); workspaces paid on their own
Stripe key pay no platform fee, whatever their plan."""

SubjectKind = Literal["proposal", "engagement", "project"]


@dataclass(frozen=True)
class HostUser:
    """The signed-in staff member, as the host sees them (``email`` default ``""``).

    ``name`` (and ``email``) are recorded in the audit trail of what they do."""

    id: str
    name: str
    email: str = ""


@dataclass(frozen=True)
class HostWorkspace:
    """The tenant. Everything the plugin stores is scoped by ``id``.

    Fields and defaults: ``id`` and ``name`` (shown to clients on pay pages, emails and
    documents) are required; ``mode="consulting"`` (see :data:`WorkspaceMode`:
    ``"consulting"`` or ``"internal"``); ``plan="starter"`` (see :data:`Plan`: it picks
    the platform fee through ``INVOICING_PLAN_FEES_BPS``; give every workspace its real
    plan); ``locale="en_US"`` (a Babel locale: how amounts are written); ``country=None``;
    ``timezone="UTC"``.
    """

    id: str
    name: str
    mode: WorkspaceMode = "consulting"
    plan: Plan = "starter"
    locale: str = "en_US"
    country: str | None = None
    """Where the workspace's business is established: an ISO 3166-1 alpha-2 code (``"GB"``).

    Optional (``None``: the Stripe platform's own country). Used when the workspace's Stripe
    Express account is created -- Stripe cannot change an account's country afterwards, and
    a business outside the platform's country cannot onboard an account of the wrong one.
    Connecting Stripe is refused with a clear message if it is not a valid code."""
    timezone: str = "UTC"
    """The workspace's IANA time zone (``"America/Los_Angeles"``, ``"Europe/London"``).

    Every *day* the plugin works with is a calendar day in this zone: "today" for due
    dates and overdue, the latest date a payment can be marked as received, the "paid
    on" date shown and emailed, and the days and months of the analytics. Default
    ``"UTC"``; ``None`` or ``""`` also mean UTC (a host column that is still empty).
    A name that is not an IANA key raises :class:`~invoicing_plugin.domain.calendar.UnknownTimeZone`
    (a ``ValueError`` with ``.message``) when the workspace is built: the host finds out at
    once, never as a wrong date later."""

    def __post_init__(self) -> None:
        if self.mode not in WORKSPACE_MODES:  # a typo ("Internal") must not bill clients
            raise ValueError(f"HostWorkspace.mode must be one of {', '.join(map(repr, WORKSPACE_MODES))}, "
                             f"not {self.mode!r}")
        as_zone(self.timezone)  # UnknownTimeZone now, not a wrong day later

    @property
    def bills_clients(self) -> bool:
        return self.mode != "internal"

    @property
    def zone(self) -> tzinfo:
        """:attr:`timezone` as a ``tzinfo`` (``datetime.timezone.utc`` for UTC)."""
        return as_zone(self.timezone)


@dataclass(frozen=True)
class HostClient:
    """A client of the workspace: who an invoice is addressed to.

    ``id``, ``name`` and ``email`` are required. ``name`` and ``email`` are copied onto each
    invoice when it is created (a later change in the host does not rewrite sent invoices);
    ``email`` receives the invoice emails.

    Optional, default ``None`` (hosts written before them keep working): the client as the
    *buyer* of EN 16931 (BG-7), copied onto each draft when it is created, editable on the
    draft, frozen when it is sent:

    - ``legal_name`` (BT-44): the buyer's name as registered; ``None`` means ``name``;
    - the postal address (BG-8): ``address_line1``/``address_line2`` (BT-50/51), ``city``
      (BT-52), ``post_code`` (BT-53), ``country`` (BT-55, ISO 3166-1 alpha-2, ``"DE"``);
    - ``vat_id`` (BT-48, with or without its country prefix: ``"DE136695976"``; checked with
      python-stdnum against ``country``, so give ``country`` with it) -- needed for a reverse
      charge (B2B) invoice;
    - ``registration_id`` (BT-47, e.g. the company number).

    Copying checks them as staff input is checked (length, NUL, country code, VAT number):
    a value that fails refuses the draft with a message naming the client's field (fix it
    in the host). A workspace that keeps "Invoice settings" cannot send an invoice to a
    client without a name and address (see ``docs/invoices.md``)."""

    id: str
    name: str
    email: str
    legal_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    post_code: str | None = None
    country: str | None = None
    vat_id: str | None = None
    registration_id: str | None = None


@dataclass(frozen=True)
class HostSubject:
    """Something billable in the host: a proposal, an engagement or a project.

    Fields and defaults: ``kind`` (``"proposal"``, ``"engagement"`` or ``"project"``),
    ``id`` and ``title`` are required; ``client_id=None`` (the :class:`HostClient` id the
    invoice is for); ``total_minor=None``; ``currency=None``; ``approved=False``;
    ``accepted_by_client=False``; ``url=None``; ``accepts_deposit=None``.

    ``total_minor`` is in the currency's Stripe minor units (``None`` if the host
    has no total for it). ``currency`` is an ISO 4217 code in any case (``"gbp"`` is
    stored as ``"GBP"``). ``approved`` means approved internally by staff;
    ``accepted_by_client`` means the client accepted it.

    ``url`` is where staff see the subject in the host app: the plugin's staff pages link
    the invoice (and the deposit form) back to it, as an ``href``, so a path
    (``"/engagements/7"``) or an absolute URL both work. It may also be a function of no
    arguments returning one (or ``None``), called only while a staff page is rendered,
    inside a request: ``url=lambda: url_for("engagement", id=e.id)``. The plugin also
    asks for subjects outside requests (``invoicing_plugin.api``, tasks), where
    ``url_for`` may fail; a function is never called there. Read it with :attr:`link`.

    Deposits: a deposit invoice can be raised from any subject, whatever its kind,
    that :attr:`takes_deposits` and that the client accepted (``accepted_by_client``),
    with a total and a currency. ``accepts_deposit`` is how the host says which
    subjects take deposits:

    - ``None`` (the default, what hosts written before it get): proposals approved
      internally (``kind == "proposal" and approved``), nothing else;
    - ``True``: this subject takes deposits, whatever its kind (an engagement the
      client signed, say); the host has decided, ``approved`` is not consulted;
    - ``False``: never, not even a proposal.

    Invoices raised from a subject (deposits included) are linked to it by
    :attr:`ref`, and the client portal groups invoices by that subject, once.
    """

    kind: SubjectKind
    id: str
    title: str
    client_id: str | None = None
    total_minor: int | None = None
    currency: str | None = None
    approved: bool = False
    accepted_by_client: bool = False
    url: str | Callable[[], str | None] | None = None
    accepts_deposit: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.currency, str):
            object.__setattr__(self, "currency", self.currency.strip().upper() or None)

    @property
    def link(self) -> str | None:
        """:attr:`url`, called if it is a function (inside a request: a staff page)."""
        url = self.url
        if callable(url):
            url = url()
        return url or None

    @property
    def ref(self) -> str:
        """Stable ``kind:id`` reference stored on invoices."""
        return f"{self.kind}:{self.id}"

    @property
    def takes_deposits(self) -> bool:
        """Whether the host lets this subject take deposits (``accepts_deposit``, or by
        default: a proposal approved internally). The client must still have accepted
        it, and it must have a total, before a deposit is raised."""
        if self.accepts_deposit is not None:
            return bool(self.accepts_deposit)
        return self.kind == "proposal" and self.approved


@dataclass(frozen=True)
class HostSellerDetails:
    """The workspace as the seller on its invoices (EN 16931 BG-4 *Seller*).

    Kept by the plugin per workspace on the "Invoice settings" page; a host may prefill
    it with the optional ``seller_details(workspace)`` method (see :class:`SellerDetailsHost`),
    used while the workspace has saved none. Only ``legal_name`` is required; every other
    field defaults to ``None``:

    - ``legal_name`` (BT-27) and ``trading_name`` (BT-28);
    - the postal address (BG-5): ``address_line1``/``address_line2`` (BT-35/36), ``city``
      (BT-37), ``post_code`` (BT-38), ``country`` (BT-40, ISO 3166-1 alpha-2, ``"GB"``);
    - ``vat_id`` (BT-31, with its country prefix: ``"GB980780684"``, ``"DE136695976"``) and
      ``registration_id`` (BT-30, e.g. the company number);
    - the contact (BG-6): ``contact_name``, ``contact_phone``, ``contact_email``;
    - ``payment_terms_days``: days from sending until an invoice is due, by default;
    - ``footer``: a note printed at the foot of every invoice.

    What the host gives is shown as given (the settings form checks it, VAT id included,
    when staff save it).
    """

    legal_name: str
    trading_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    city: str | None = None
    post_code: str | None = None
    country: str | None = None
    vat_id: str | None = None
    registration_id: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    payment_terms_days: int | None = None
    footer: str | None = None

    @property
    def address_lines(self) -> list[str]:
        """The postal address as printed: street lines, then post code and city, then country code."""
        return postal_address_lines(self.address_line1, self.address_line2, self.post_code, self.city, self.country)


@runtime_checkable
class SellerDetailsHost(Protocol):
    """OPTIONAL extra of the host contract: the workspace's seller details, to prefill.

    When the host object has a ``seller_details`` method, the "Invoice settings" page
    starts from what it returns, and the printable invoice shows it, until staff save the
    workspace's own details (which then win). Return ``None`` when the host knows none.
    """

    def seller_details(self, workspace: HostWorkspace) -> HostSellerDetails | None:
        """The workspace's legal details as the host keeps them, or ``None``."""


def host_seller_details(host: object, workspace: HostWorkspace) -> HostSellerDetails | None:
    """Ask ``host`` for ``workspace``'s seller details if it implements the optional method.

    Anything but a :class:`HostSellerDetails` (or ``None``) raises ``TypeError``: a host
    mistake is found at once, not printed on an invoice."""
    method = getattr(host, "seller_details", None)
    if not callable(method):
        return None
    details = method(workspace)
    if details is None:
        return None
    if not isinstance(details, HostSellerDetails):
        raise TypeError(f"seller_details() must return a HostSellerDetails or None, not {type(details).__name__}")
    return details


@runtime_checkable
class InvoicingHost(Protocol):
    """What a host app must provide. Subclass it or just match its shape."""

    #: Template every staff page of the plugin extends. It must define
    #: ``{% block content %}`` and may define ``{% block title %}`` (filled when it
    #: exists, ignored otherwise). The plugin's pages put themselves in ``content`` and
    #: never assume anything else about the layout. Client-facing pages (pay link,
    #: Checkout return pages, portal) do not extend it: they use
    #: ``INVOICING_CLIENT_BASE_TEMPLATE`` (same two blocks), so clients never see the
    #: host's staff navigation.
    base_template: str

    def current_workspace(self) -> HostWorkspace | None:
        """The workspace of the current request, or ``None`` outside one."""

    def current_user(self) -> HostUser | None:
        """The signed-in staff member, or ``None`` when anonymous."""

    def can_manage_billing(self, user: HostUser, workspace: HostWorkspace) -> bool:
        """Whether ``user`` may see and manage invoicing in ``workspace``."""

    def get_workspace(self, workspace_id: str) -> HostWorkspace | None:
        """Look a workspace up by id, outside a request (webhooks, CLI)."""

    def get_client(self, workspace_id: str, client_id: str) -> HostClient | None:
        """A client of that workspace, or ``None`` (including another workspace's client)."""

    def list_clients(self, workspace_id: str) -> Sequence[HostClient]:
        """The workspace's clients, for the invoice form's client picker."""

    def get_subject(self, workspace_id: str, kind: str, subject_id: str) -> HostSubject | None:
        """A proposal / engagement / project of that workspace, or ``None``."""

    def list_subjects(self, workspace_id: str, kind: str | None = None) -> Sequence[HostSubject]:
        """The workspace's billable subjects (optionally of one kind)."""


@dataclass(frozen=True)
class HostClientIdentity:
    """A client signed in through the host's own client login (not a staff member)."""

    workspace_id: str
    client_id: str


@runtime_checkable
class ClientLoginHost(Protocol):
    """OPTIONAL extra of the host contract, for hosts with their own client login.

    When the host object has a ``current_client`` method, the client portal at
    ``{prefix}/portal`` shows the signed-in client their invoices (no link needed).
    Return ``None`` when nobody, or a staff member, is signed in. The plugin calls
    it only if it exists, so ``InvoicingHost`` does not require it.
    """

    def current_client(self) -> HostClientIdentity | None:
        """The client signed in through the host, or ``None``."""


def host_current_client(host: object) -> HostClientIdentity | None:
    """Ask ``host`` for its signed-in client if it implements the optional method."""
    method = getattr(host, "current_client", None)
    if not callable(method):
        return None
    identity = method()
    if identity is None:
        return None
    return HostClientIdentity(workspace_id=str(identity.workspace_id), client_id=str(identity.client_id))


#: How long :func:`remembered_workspace` believes what the host said about a workspace
#: (its name and time zone), in seconds.
WORKSPACE_MEMORY_SECONDS = 300.0

#: id(host) -> {workspace id: (HostWorkspace or None, when)}; an entry goes when its host
#: does (hosts may be unhashable dataclasses, so they are not keys themselves).
_workspaces: dict[int, dict[str, tuple[HostWorkspace | None, float]]] = {}


def _memory_of(host: Any) -> dict[str, tuple[HostWorkspace | None, float]] | None:
    key = id(host)
    memory = _workspaces.get(key)
    if memory is None:
        try:
            finalize(host, _workspaces.pop, key, None)
        except TypeError:  # cannot be weakly referenced: ask every time
            return None
        memory = _workspaces[key] = {}
    return memory


def remembered_workspace(host: Any, workspace_id: str, *,
                         max_age: float = WORKSPACE_MEMORY_SECONDS) -> HostWorkspace | None:
    """``host.get_workspace(workspace_id)``, remembered per host object for ``max_age`` seconds.

    ``max_age=0`` asks now (and remembers the answer). For what may lag the host by a few
    minutes and runs per payment: the kept analytics totals' day (:func:`workspace_zone`) and
    the workspace's name and "paid on" day in the payment confirmation, so the webhook's
    hot path does not query the host for every event. Every check of "today" (due dates,
    overdue, mark paid) and every access check asks the host afresh.
    """
    workspace_id = str(workspace_id)
    memory = _memory_of(host)
    now = time.monotonic()
    if memory is not None and max_age > 0:
        known = memory.get(workspace_id)
        if known is not None and now - known[1] < max_age:
            return known[0]
    workspace = host.get_workspace(workspace_id)
    if memory is not None:
        memory[workspace_id] = (workspace, now)
    return workspace


def workspace_zone(host: Any, workspace_id: str, *, max_age: float = WORKSPACE_MEMORY_SECONDS) -> tzinfo:
    """The time zone of ``workspace_id`` by ``host`` (UTC when the host does not know it),
    remembered as :func:`remembered_workspace` says."""
    workspace = remembered_workspace(host, workspace_id, max_age=max_age)
    return workspace.zone if workspace is not None else UTC


def parse_subject_ref(ref: str | None) -> tuple[str, str] | None:
    """Split a stored ``kind:id`` subject reference; ``None`` for empty or malformed input."""
    if not ref or ":" not in ref:
        return None
    kind, _, subject_id = ref.partition(":")
    if kind not in ("proposal", "engagement", "project") or not subject_id:
        return None
    return kind, subject_id
