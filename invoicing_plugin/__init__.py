"""invoicing_plugin: invoicing with Stripe payments for any Flask app.

Mount it with one hook::

    from invoicing_plugin import Invoicing
    invoicing = Invoicing(app, host=MyHost())

``MyHost`` implements :class:`invoicing_plugin.host.InvoicingHost`.
"""

from .extension import Invoicing  # the top: it loads the pages too (on import, not in init_app)
from .host import HostClient, HostSellerDetails, HostSubject, HostUser, HostWorkspace, InvoicingHost
from .state import get_state

__all__ = [
    "Invoicing",
    "InvoicingHost",
    "HostClient",
    "HostSellerDetails",
    "HostSubject",
    "HostUser",
    "HostWorkspace",
    "get_state",
]
__version__ = "0.1.0"
