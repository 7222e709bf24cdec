"""Listing events as Stripe does: pages, cursors, the 30-day window, connected accounts.

* https://docs.stripe.com/api/events/list -- newest first, ``limit`` 1-100 (default 10),
  ``has_more``, ``created`` ranges, ``delivery_success``; "going back up to 30 days".
* https://docs.stripe.com/api/pagination and https://docs.stripe.com/api/pagination/auto --
  ``starting_after`` is an object id that defines the place in the list; the SDK's
  ``auto_paging_iter()`` follows ``has_more`` with ``starting_after`` = the last id.
* https://docs.stripe.com/webhooks/process-undelivered-events -- ``delivery_success=false``
  lists the events still pending or failed at an endpoint; "use auto-pagination".
* https://docs.stripe.com/connect/webhooks -- a connected account's events carry
  ``account``; the platform reads them with the ``Stripe-Account`` header.
"""

from __future__ import annotations

import pytest
import stripe

from tests.emulator.helpers import express_account

DEAD_URL = "http://127.0.0.1:9/nowhere"  # nothing listens: every delivery fails


def _touch(client, account_id: str, times: int) -> None:
    """``times`` account.updated events on the connected account (metadata updates)."""
    for i in range(times):
        client.v1.accounts.update(account_id, {"metadata": {"n": str(i)}})


def test_events_come_in_pages_and_auto_pagination_reads_them_all(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    _touch(client, account.id, 105)
    options = {"stripe_account": account.id}

    first = client.v1.events.list({"limit": 100}, options)
    assert len(first.data) == 100 and first.has_more is True
    rest = client.v1.events.list({"limit": 100, "starting_after": first.data[-1].id}, options)
    assert rest.has_more is False
    ids = [e.id for e in first.data] + [e.id for e in rest.data]
    assert len(ids) == len(set(ids)) == 106  # 105 updates and the one of onboarding
    assert [e.id for e in client.v1.events.list({"limit": 7}, options).auto_paging_iter()] == ids
    created = [e.created for e in client.v1.events.list({"limit": 100}, options).data]
    assert created == sorted(created, reverse=True)  # newest first


def test_a_connected_accounts_events_are_listed_with_the_stripe_account_header_only(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    own = client.v1.events.list({"limit": 100}).data
    theirs = client.v1.events.list({"limit": 100}, {"stripe_account": account.id}).data
    assert theirs and all(e.account == account.id and e.type == "account.updated" for e in theirs)
    assert not {e.id for e in own} & {e.id for e in theirs}
    assert all(getattr(e, "account", None) is None for e in own)


def test_undelivered_connected_account_events_are_listed_for_the_connect_endpoint(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    stripe_emulator.control.add_webhook_endpoint(DEAD_URL, connect=True, enabled_events=["account.updated"])
    _touch(client, account.id, 3)
    options = {"stripe_account": account.id}
    undelivered = client.v1.events.list({"delivery_success": False}, options).data
    assert len(undelivered) == 3 and {e.pending_webhooks for e in undelivered} == {1}
    assert client.v1.events.list({"delivery_success": False}).data == []  # none of the platform's own


def test_a_cursor_keeps_its_place_when_a_filter_no_longer_selects_it(client, stripe_emulator):
    """An event delivered between two pages of ``delivery_success=false`` still marks the place."""
    account = express_account(client, stripe_emulator.control)
    endpoint = stripe_emulator.control.add_webhook_endpoint(DEAD_URL, connect=True)
    _touch(client, account.id, 5)
    options = {"stripe_account": account.id}
    first = client.v1.events.list({"delivery_success": False, "limit": 2}, options)
    cursor = first.data[-1].id
    with stripe_emulator.state.lock:  # the endpoint finally answers for that one event
        stripe_emulator.state.mark_delivered(cursor, endpoint["id"])
    rest = client.v1.events.list({"delivery_success": False, "limit": 100, "starting_after": cursor}, options)
    assert len(rest.data) == 3 and cursor not in {e.id for e in rest.data}


def test_a_cursor_of_another_account_is_missing(client, stripe_emulator, new_key):
    account = express_account(client, stripe_emulator.control)
    theirs = client.v1.events.list({"limit": 1}, {"stripe_account": account.id}).data[0]
    other = stripe_emulator.stripe_client(new_key())
    with pytest.raises(stripe.InvalidRequestError) as info:
        other.v1.events.list({"starting_after": theirs.id})
    assert info.value.http_status == 404 and info.value.code == "resource_missing"


def test_events_older_than_30_days_are_not_listed(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    options = {"stripe_account": account.id}
    before = len(client.v1.events.list({"limit": 100}, options).data)
    stripe_emulator.control.advance_clock(30 * 24 * 3600 + 1)
    _touch(client, account.id, 1)
    listed = client.v1.events.list({"limit": 100}, options).data
    assert before == 1 and len(listed) == 1
