"""``INVOICING_EXTERNAL_URL`` is checked at start-up (issue 14, break).

Before (47d633c) any value was taken: ``javascript:alert(1)`` became the start of every pay
link in emails and on staff pages; ``app.example.com`` (no scheme) built ``https:///...``
links; a query string or fragment was kept by ``external_path`` (printed invoices) and
dropped by ``external_url`` (emails), so the two disagreed; credentials in it were
mailed to every client. Now only ``http(s)://host[:port][/path]`` starts.
"""

from __future__ import annotations

import pytest

from invoicing_plugin import config

BAD = ["javascript:alert(1)", "javascript://example.com/%0aalert(1)", "data:text/html,hi", "ftp://example.com",
       "app.example.com", "//app.example.com", "https://", "https:///path", "https://app.example.com/?next=x",
       "https://app.example.com/#frag", "https://user:pw@app.example.com", "https://app.example.com/a b",
       "https://app.example.com\r\n.evil.test", "https://app.example.com:99999", 42, ["https://a.test"]]
GOOD = ["https://app.example.com", "https://app.example.com/", "https://app.example.com/billing",
        "https://app.example.com/billing/", "http://localhost:5000", "https://[::1]:8443/x", None, ""]


@pytest.mark.parametrize("value", BAD)
def test_a_value_that_is_not_an_http_base_url_is_refused(value):
    [message] = config.invalid_values({"INVOICING_EXTERNAL_URL": value})
    assert message.startswith("INVOICING_EXTERNAL_URL must be")


@pytest.mark.parametrize("value", GOOD)
def test_http_base_urls_with_or_without_a_path_start(value):
    assert config.invalid_values({"INVOICING_EXTERNAL_URL": value}) == []


def test_the_host_app_does_not_start_with_a_javascript_base(app_config):
    from host_demo import create_app

    with pytest.raises(ValueError, match="INVOICING_EXTERNAL_URL must be"):
        create_app({**app_config, "INVOICING_EXTERNAL_URL": "javascript:alert(1)//"})


@pytest.mark.parametrize("extra, warned", [
    ({}, True),
    ({"INVOICING_EXTERNAL_URL": "https://billing.example.com"}, False),
    ({"TRUSTED_HOSTS": ["billing.example.com"]}, False),
    ({"SERVER_NAME": "billing.example.com"}, False),
    ({"TESTING": True}, False),
])
def test_a_production_app_building_links_from_the_host_header_says_so_once_it_serves(app_config, caplog, extra,
                                                                                      warned):
    """Before: silent. Unset, every emailed pay/portal link took the request's Host header.
    Said at the first request, not at start-up (every ``flask ...`` command starts the app)."""
    from host_demo import create_app

    caplog.set_level("WARNING", logger="invoicing_plugin")
    app = create_app({**app_config, "TESTING": False, **extra})
    assert not [r for r in caplog.records if "Host header" in r.getMessage()]
    app.test_client().get("/")
    app.test_client().get("/")
    found = [r for r in caplog.records if "Host header" in r.getMessage()]
    assert len(found) == (1 if warned else 0)
