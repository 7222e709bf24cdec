"""The host contract's defaults and normalisations, as the README's table documents them
(new-user report, item 4)."""

from __future__ import annotations

import pytest

import invoicing_plugin
from invoicing_plugin import HostClient, HostSubject, HostUser, HostWorkspace, InvoicingHost
from invoicing_plugin.config import SETTINGS


def test_the_documented_import_path():
    for name in ("HostClient", "HostSubject", "HostUser", "HostWorkspace", "InvoicingHost", "Invoicing"):
        assert name in invoicing_plugin.__all__
    assert InvoicingHost.__module__ == "invoicing_plugin.host"


def test_workspace_defaults():
    workspace = HostWorkspace(id="1", name="Acme")
    assert (workspace.mode, workspace.plan, workspace.locale, workspace.country, workspace.timezone) == (
        "consulting", "starter", "en_US", None, "UTC")
    assert workspace.bills_clients
    # What the default plan costs with the default fees: 4 % of Connect payments.
    assert SETTINGS["INVOICING_PLAN_FEES_BPS"].default[workspace.plan] == 400


@pytest.mark.parametrize("mode, bills", [("consulting", True), ("internal", False)])
def test_the_two_modes(mode, bills):
    assert HostWorkspace(id="1", name="Acme", mode=mode).bills_clients is bills


@pytest.mark.parametrize("mode", ["Internal", "agency", "", None])
def test_any_other_mode_is_refused_when_the_workspace_is_built(mode):
    """Before: anything but "internal" billed clients, so a typo ("Internal") showed invoicing."""
    with pytest.raises(ValueError, match="HostWorkspace.mode must be one of 'consulting', 'internal'"):
        HostWorkspace(id="1", name="Acme", mode=mode)


def test_user_client_and_subject_defaults():
    assert HostUser(id="1", name="Ada").email == ""
    assert HostClient(id="1", name="Bo", email="bo@client.test").email == "bo@client.test"
    subject = HostSubject(kind="engagement", id="7", title="Pentest")
    assert (subject.client_id, subject.total_minor, subject.currency, subject.approved,
            subject.accepted_by_client, subject.url, subject.accepts_deposit) == (
        None, None, None, False, False, None, None)
    assert subject.link is None and subject.ref == "engagement:7"


@pytest.mark.parametrize("given, stored", [("gbp", "GBP"), ("GBP", "GBP"), (" Eur ", "EUR"), ("", None), (None, None)])
def test_subject_currency_in_any_case_is_stored_in_upper_case(given, stored):
    assert HostSubject(kind="proposal", id="1", title="P", currency=given).currency == stored


def test_subject_url_as_text_or_as_a_function_called_only_when_read():
    assert HostSubject(kind="project", id="1", title="P", url="/projects/1").link == "/projects/1"
    assert HostSubject(kind="project", id="1", title="P", url="https://app.test/p/1").link == "https://app.test/p/1"
    calls = []

    def build():
        calls.append(1)
        return "/projects/1"

    subject = HostSubject(kind="project", id="1", title="P", url=build)
    assert calls == []  # building the subject (outside a request, say) calls nothing
    assert subject.link == "/projects/1" and calls == [1]
    assert HostSubject(kind="project", id="1", title="P", url=lambda: None).link is None


def test_seller_details_is_optional_and_must_be_a_host_seller_details():
    from invoicing_plugin.host import HostSellerDetails, HostWorkspace, host_seller_details

    workspace = HostWorkspace(id="1", name="Acme")

    class Without:
        pass

    class Gives:
        def __init__(self, value):
            self.value = value

        def seller_details(self, ws):
            return self.value

    assert host_seller_details(Without(), workspace) is None
    assert host_seller_details(Gives(None), workspace) is None
    details = HostSellerDetails(legal_name="Acme Ltd", post_code="EC2R 8AH", city="London", country="GB")
    assert host_seller_details(Gives(details), workspace) is details
    assert details.address_lines == ["EC2R 8AH London", "GB"]
    with pytest.raises(TypeError, match="HostSellerDetails"):
        host_seller_details(Gives({"legal_name": "Acme Ltd"}), workspace)
