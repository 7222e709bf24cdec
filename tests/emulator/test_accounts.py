"""Accounts, Connect links, authentication and account isolation via the SDK."""

from __future__ import annotations

import pytest
import stripe

from tests.emulator.helpers import express_account


def test_each_key_is_its_own_enabled_platform(stripe_emulator, new_key):
    first = stripe_emulator.stripe_client(new_key()).v1.accounts.retrieve_current()
    second = stripe_emulator.stripe_client(new_key()).v1.accounts.retrieve_current()
    assert first.id.startswith("acct_") and second.id != first.id
    assert first.object == "account" and first.livemode is False
    assert first.charges_enabled and first.details_submitted and first.payouts_enabled


def test_same_key_is_the_same_account(stripe_emulator, new_key):
    key = new_key()
    ids = {stripe_emulator.stripe_client(key).v1.accounts.retrieve_current().id for _ in range(2)}
    assert len(ids) == 1


@pytest.mark.parametrize("key", ["sk_test_short", "pk_test_abcdefgh123", "not-a-key",
                                 "sk_test_has-dash-1234"])
def test_malformed_keys_are_rejected(stripe_emulator, key):
    client = stripe_emulator.stripe_client(key)
    with pytest.raises(stripe.AuthenticationError) as info:
        client.v1.accounts.retrieve_current()
    assert info.value.http_status == 401
    assert info.value.error.type == "invalid_request_error"
    assert info.value.user_message.startswith("Invalid API Key provided: ")
    assert key not in info.value.user_message or len(key) <= 4


def test_revoked_key_fails_and_masks_key(stripe_emulator, new_key):
    key = new_key()
    client = stripe_emulator.stripe_client(key)
    client.v1.accounts.retrieve_current()
    stripe_emulator.control.revoke_key(key)
    with pytest.raises(stripe.AuthenticationError) as info:
        client.v1.accounts.retrieve_current()
    assert info.value.user_message == f"Invalid API Key provided: sk_test_****{key[-4:]}"


def test_restricted_keys_are_accepted(stripe_emulator):
    account = stripe_emulator.stripe_client("rk_test_abcdefgh12").v1.accounts.retrieve_current()
    assert account.id.startswith("acct_")


def test_create_express_account_shape(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False,
                              metadata={"workspace": "42"})
    assert account.id.startswith("acct_")
    assert account.type == "express" and account.country == "DE"
    assert account.email == "seller@example.com"
    assert account.metadata.to_dict() == {"workspace": "42"}
    assert account.charges_enabled is False and account.details_submitted is False
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    requirements = account.requirements
    assert requirements.currently_due and requirements.disabled_reason == "requirements.past_due"
    assert requirements.errors == [] and "eventually_due" in requirements
    fetched = client.v1.accounts.retrieve(account.id)
    assert fetched.to_dict() == account.to_dict()


def test_update_account_metadata_merges_and_deletes(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False,
                              metadata={"a": "1", "b": "2"})
    updated = client.v1.accounts.update(account.id, {"metadata": {"b": "", "c": "3"}})
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}


def test_unknown_parameter_on_account_create(client):
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.accounts.create({"type": "express", "colour": "red"})
    assert (info.value.code, info.value.param) == ("parameter_unknown", "colour")


def test_account_link_and_login_link(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False)
    link = client.v1.account_links.create({
        "account": account.id, "type": "account_onboarding",
        "refresh_url": "https://merchant.test/refresh", "return_url": "https://merchant.test/ret"})
    assert link.object == "account_link"
    assert link.url.startswith(stripe_emulator.url + "/")
    assert link.expires_at - link.created == 300
    with pytest.raises(stripe.InvalidRequestError):  # not onboarded yet
        client.v1.accounts.login_links.create(account.id)
    stripe_emulator.control.complete_onboarding(account.id)
    login = client.v1.accounts.login_links.create(account.id)
    assert login.object == "login_link" and login.url.startswith(stripe_emulator.url)


def test_account_link_requires_type_and_urls(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False)
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.account_links.create({"account": account.id})
    assert (info.value.code, info.value.param) == ("parameter_missing", "type")
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.account_links.create({"account": account.id, "type": "account_onboarding",
                                        "return_url": "https://merchant.test/ret"})
    assert info.value.param == "refresh_url"


def test_onboarding_outcomes(client, stripe_emulator):
    ctl = stripe_emulator.control
    done = express_account(client, ctl)
    fetched = client.v1.accounts.retrieve(done.id)
    assert fetched.charges_enabled and fetched.payouts_enabled and fetched.details_submitted
    assert fetched.requirements.currently_due == [] and fetched.requirements.disabled_reason is None
    stuck = express_account(client, ctl, onboard=False)
    ctl.complete_onboarding(stuck.id, restricted=True)
    fetched = client.v1.accounts.retrieve(stuck.id)
    assert fetched.details_submitted and not fetched.charges_enabled
    assert fetched.requirements.currently_due
    assert fetched.requirements.disabled_reason == "requirements.past_due"


def test_stripe_account_header_acts_as_connected_account(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    me = client.v1.accounts.retrieve_current(options={"stripe_account": account.id})
    assert me.id == account.id


def test_foreign_stripe_account_header_is_a_permission_error(stripe_emulator, new_key):
    owner = stripe_emulator.stripe_client(new_key())
    other = stripe_emulator.stripe_client(new_key())
    account = express_account(owner, stripe_emulator.control)
    with pytest.raises(stripe.PermissionError) as info:
        other.v1.accounts.retrieve_current(options={"stripe_account": account.id})
    assert info.value.http_status == 403
    assert "does not have access to account" in info.value.user_message


def test_other_platforms_account_is_missing(stripe_emulator, new_key):
    owner = stripe_emulator.stripe_client(new_key())
    other = stripe_emulator.stripe_client(new_key())
    account = express_account(owner, stripe_emulator.control)
    with pytest.raises(stripe.InvalidRequestError) as info:
        other.v1.accounts.retrieve(account.id)
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_deauthorized_account_loses_access(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    event = stripe_emulator.control.deauthorize(account.id)
    assert event["type"] == "account.application.deauthorized"
    assert event["account"] == account.id
    with pytest.raises(stripe.PermissionError):
        client.v1.accounts.retrieve_current(options={"stripe_account": account.id})


def test_onboarding_emits_connect_account_updated(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    events = client.v1.events.list({"type": "account.updated"},
                                   options={"stripe_account": account.id})
    assert len(events.data) == 1
    event = events.data[0]
    assert event.account == account.id
    assert event.data.object.charges_enabled is True
    assert event.data.previous_attributes.charges_enabled is False
    # the platform's own event list does not contain the connected account's events
    assert client.v1.events.list({"type": "account.updated"}).data == []


def test_account_country_defaults_to_the_platforms_and_must_be_an_iso_code(client):
    """``country``: ISO 3166-1 alpha-2; omitted, the platform's own country
    (https://docs.stripe.com/api/accounts/create#create_account-country)."""
    import stripe

    transfers = {"transfers": {"requested": True}}
    platform = client.v1.accounts.retrieve_current()
    default = client.v1.accounts.create({"type": "express", "capabilities": transfers})
    assert default.country == platform.country
    british = client.v1.accounts.create({"type": "express", "country": "GB", "capabilities": transfers})
    assert (british.country, british.default_currency) == ("GB", "gbp")
    for bad in ("UK", "XX", "GBR"):
        with pytest.raises(stripe.InvalidRequestError) as info:
            client.v1.accounts.create({"type": "express", "country": bad, "capabilities": transfers})
        assert info.value.param == "country"
