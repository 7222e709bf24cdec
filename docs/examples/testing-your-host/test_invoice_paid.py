import re
import urllib.request

from acme import Customer, db
from invoicing_plugin import api


def test_an_invoice_sent_by_email_is_paid_through_stripe(app, stripe_emulator, mail_sink):
    control = stripe_emulator.control

    # Billing staff connect Stripe; Stripe reports the finished onboarding by webhook.
    staff = app.test_client()
    onboarding = staff.post("/invoicing/connected-apps/stripe/connect").headers["Location"]
    account_id = onboarding.split("/setup/s/")[1].split("/")[0]
    control.complete_onboarding(account_id)
    control.wait_for_deliveries()

    # A draft for one of your customers, sent by email.
    with app.app_context():
        customer = Customer(name="Globex", email="ap@globex.test")
        db.session.add(customer)
        db.session.commit()
        draft = api.create_draft("1", "test", client_id=str(customer.id), amount="1,250.00",
                                 currency="GBP", description="Penetration test")
        api.send("1", "test", draft.id, method="email")

    [invoice_email] = mail_sink.wait_for(1)
    assert invoice_email["To"].addresses[0].addr_spec == "ap@globex.test"
    html = invoice_email.get_body(("html",)).get_content()
    pay_link = re.search(r'href="([^"]*/pay/[^"]+)"', html).group(1)

    # The client opens the link, lands on Stripe Checkout and pays.
    with urllib.request.urlopen(pay_link) as checkout_page:
        session_id = checkout_page.url.rsplit("/", 1)[1]
    control.pay_session(session_id)
    control.wait_for_deliveries()

    with app.app_context():
        assert api.get_invoice("1", draft.id).status == "paid"
    confirmation = mail_sink.wait_for(2)[1]
    assert confirmation["Subject"].startswith("Payment received for invoice")
