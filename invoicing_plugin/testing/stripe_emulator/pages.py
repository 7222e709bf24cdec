"""Hosted pages: Checkout, Connect onboarding and the Express dashboard.

Plain server-rendered HTML (Jinja templates in ``templates/``, inline CSS,
no JavaScript, no external assets) so they work in browser tests and with
a bare HTTP client that submits forms.  Every action goes through the same
functions as the control API (:mod:`.resources`), under the state lock.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from . import currencies, resources
from .errors import StripeError
from .state import EmulatorState

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)

URL_MAP = Map([
    Rule("/", endpoint="index"),
    Rule("/c/pay/<session_id>", endpoint="checkout", methods=["GET", "POST"]),
    Rule("/setup/s/<account_id>/<token>", endpoint="onboarding", methods=["GET", "POST"]),
    Rule("/express/<account_id>/<token>", endpoint="dashboard"),
])


def render(template: str, status: int = 200, **context) -> Response:
    html = TEMPLATES.get_template(template).render(**context)
    return Response(html, status=status, mimetype="text/html")


def message_page(heading: str, message: str, status: int = 200) -> Response:
    return render("message.html", status=status, heading=heading, message=message)


class PagesApp:
    """WSGI application for the hosted pages."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def __call__(self, environ, start_response):
        request = Request(environ)
        adapter = URL_MAP.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
            with self.state.lock:
                resources.expire_due_sessions(self.state)
                response = getattr(self, endpoint)(request, **args)
        except NotFound:
            response = message_page("Not found", "There is no page at this address.", 404)
        except HTTPException as exc:
            response = exc.get_response(environ)
        return response(environ, start_response)

    # ------------------------------------------------------------ pages
    def index(self, request: Request) -> Response:
        return render("index.html", base_url=request.host_url, now=self.state.now())

    def checkout(self, request: Request, session_id: str) -> Response:
        session = self.state.objects.get(session_id)
        if session is None or session.get("object") != "checkout.session":
            return message_page("Checkout not found", "This checkout link is not valid.", 404)
        if session["status"] == "expired":
            return message_page("Checkout expired",
                                "This checkout session has expired. Return to the merchant to "
                                "start again.", 410)
        if session["status"] == "complete":
            return message_page("Already paid", "This checkout session is already complete.")
        if request.method == "GET":
            return self._checkout_page(request, session)
        return self._pay(request, session)

    def _pay(self, request: Request, session: dict) -> Response:
        method = request.form.get("method", "card")
        try:
            if method == "delayed":
                resources.pay_session(self.state, session, "delayed")
            else:
                number = request.form.get("card_number", "")
                resources.pay_session(self.state, session, "succeeded", card_number=number)
        except resources.PaymentDeclined as declined:
            return self._checkout_page(request, session, message=declined.message,
                                       message_class="error", status=402)
        except StripeError as exc:
            return message_page("Payment failed", exc.message, 400)
        target = session["success_url"] or session.get("return_url")
        if not target:
            return message_page("Payment complete", "Thank you, your payment was received.")
        return redirect(target.replace("{CHECKOUT_SESSION_ID}", session["id"]), code=303)

    def _checkout_page(self, request: Request, session: dict, message: str | None = None,
                       message_class: str = "notice", status: int = 200) -> Response:
        currency = session["currency"]
        items = [{
            "name": item["_product"].get("name"),
            "description": item["_product"].get("description"),
            "quantity": item["quantity"],
            "amount": currencies.format_amount(item["amount_total"], currency),
        } for item in session["_line_items"]]
        return render("checkout.html", status=status, session=session, items=items,
                      total=currencies.format_amount(session["amount_total"], currency),
                      payable=True, action=request.path, message=message,
                      message_class=message_class)

    def onboarding(self, request: Request, account_id: str, token: str) -> Response:
        link = self.state.account_links.get(token)
        if link is None or link.account != account_id:
            return message_page("Link not valid", "This onboarding link is not valid.", 404)
        if link.used or link.expires_at <= self.state.now():
            return redirect(link.refresh_url, code=303)
        if request.method == "GET":
            return render("onboarding.html", account=self.state.objects[account_id],
                          action=request.path)
        restricted = request.form.get("outcome") == "restricted"
        link.used = True
        resources.finish_onboarding(self.state, account_id, restricted=restricted)
        return redirect(link.return_url, code=303)

    def dashboard(self, request: Request, account_id: str, token: str) -> Response:
        if self.state.login_links.get(token) != account_id:
            return message_page("Link not valid", "This dashboard link is not valid.", 404)
        return render("dashboard.html", account=self.state.objects[account_id])
