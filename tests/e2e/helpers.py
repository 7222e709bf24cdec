"""Steps a person takes in host_demo, shared by the browser tests."""

from __future__ import annotations


def sign_in(page, base_url: str, email: str, password: str = "password", workspace_slug: str | None = None) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    if workspace_slug:
        page.goto(f"{base_url}/w/{workspace_slug}")
