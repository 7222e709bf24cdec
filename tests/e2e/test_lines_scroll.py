"""The lines' buttons reload the form (no JavaScript needed); with JavaScript the page keeps its
scroll position across that reload, and "Add line" puts the cursor in the new line (issue 15)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.helpers import sign_in


def test_add_and_remove_line_keep_the_scroll_position(world, live_server, page):
    sign_in(page, live_server.url, world.owner_email, workspace_slug=world.acme_slug)
    page.set_viewport_size({"width": 1280, "height": 400})  # short: the lines are below the fold
    page.goto(live_server.url + "/invoicing/templates/new")
    page.get_by_label("Name").fill("Monthly")
    add = page.get_by_role("button", name="Add line")
    add.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 0
    add.click()
    expect(page.locator('input[name="lines-0-description"]')).to_be_visible()
    add.click()
    expect(page.locator('input[name="lines-1-description"]')).to_be_focused()
    assert abs(page.evaluate("window.scrollY") - before) < 150
    page.locator('input[name="lines-1-description"]').fill("Second")
    page.get_by_role("button", name="Remove").first.click()
    expect(page.locator('input[name="lines-1-description"]')).to_have_count(0)
    assert page.locator('input[name="lines-0-description"]').input_value() == "Second"
    assert page.evaluate("window.scrollY") > 0
