"""Blinker signals a host can subscribe to. All are sent *after* the commit.

Each is sent with the Flask app (``current_app._get_current_object()``) as sender
and the keyword arguments named below. ``invoice`` is an
:class:`invoicing_plugin.services.views.InvoiceSnapshot` (plain data, safe to keep
after the session closes).

Example::

    from invoicing_plugin.signals import invoice_paid

    @invoice_paid.connect
    def notify_accounts(app, invoice, **extra):
        ...
"""

from blinker import Namespace

_signals = Namespace()

#: A draft invoice was created. kwargs: ``invoice``, ``actor``.
invoice_created = _signals.signal("invoicing.invoice-created")
#: An invoice was sent (by Stripe link, email or manually). kwargs: ``invoice``, ``actor``, ``method``.
invoice_sent = _signals.signal("invoicing.invoice-sent")
#: An invoice became paid (by Stripe, marked by hand, or a partly paid invoice's balance credited:
#: ``source`` ``"credit_note"``; sent with its deposits and credit covering the whole total:
#: ``source`` ``"prepayments"``). kwargs: ``invoice``, ``actor``, ``source``.
invoice_paid = _signals.signal("invoicing.invoice-paid")
#: An invoice was voided. kwargs: ``invoice``, ``actor``.
invoice_voided = _signals.signal("invoicing.invoice-voided")
#: A refund failed after all (the card network returned it): the client got nothing back, the
#: money is in the Stripe balance again. kwargs: ``invoice``, ``refund_id``, ``amount_minor``,
#: ``currency``, ``reason`` (Stripe's ``failure_reason``).
refund_failed = _signals.signal("invoicing.refund-failed")
#: A dispute on an invoice's payment closed. kwargs: ``invoice``, ``dispute_id``, ``status``
#: (``won``, ``lost``, ``warning_closed`` or ``prevented``), ``amount_minor``, ``currency``.
dispute_closed = _signals.signal("invoicing.dispute-closed")
#: A workspace's Stripe account became usable. kwargs: ``workspace_id``, ``account_id``, ``mode``.
stripe_connected = _signals.signal("invoicing.stripe-connected")
#: A workspace's Stripe link was removed (by staff or deauthorized). kwargs: ``workspace_id``, ``account_id``, ``actor``.
stripe_disconnected = _signals.signal("invoicing.stripe-disconnected")
