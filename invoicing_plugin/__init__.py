"""invoicing_plugin: invoicing with Stripe payments for any Flask app.

Mount it with one hook::

    from invoicing_plugin import Invoicing
    invoicing = Invoicing(app, host=MyHost())

``MyHost`` implements :class:`invoicing_plugin.host.InvoicingHost`.
"""

from .extension import Invoicing, get_state
from .host import HostClient, HostSubject, HostUser, HostWorkspace, InvoicingHost
from . import web as _web  # noqa: F401,E402  (pages are part of the package: loaded on import, not in init_app)

__all__ = [
    "Invoicing",
    "InvoicingHost",
    "HostClient",
    "HostSubject",
    "HostUser",
    "HostWorkspace",
    "get_state",
]
__version__ = "0.1.0"
