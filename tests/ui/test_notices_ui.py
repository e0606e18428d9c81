"""Notices in the browser: My account lists what the library told you (a copy ready on the hold shelf,
written by someone else's return) with its state, and the due-soon reminders switch keeps its setting."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.conftest import accessible, screenshot

CARD = {"payment_method": "pm_card_visa"}


def test_my_account_shows_notices_and_turns_reminders_off_and_on(visitor, ui_stack) -> None:
    title = ui_stack.add_title("Notices of the Lighthouse")
    assert ui_stack.api_as("alice").post(f"/titles/{title['title_id']}/borrow", CARD).status_code == 201
    assert ui_stack.api_as("bob").post(f"/titles/{title['title_id']}/holds").status_code == 201
    assert ui_stack.api_as("alice").post(f"/books/{title['book_ids'][0]}/return").status_code == 200

    bob = visitor()
    page = bob.page
    bob.sign_in("bob", from_hash="#/account")
    bob.goto("#/account")
    notices = page.get_by_role("region", name="Notices")
    ready = notices.locator(".notice").filter(has_text="Notices of the Lighthouse")
    expect(ready).to_contain_text("Ready on the hold shelf")
    expect(ready).to_contain_text("pick it up by")
    expect(ready.locator(".notice-state")).to_have_text("waiting to be sent")

    switch = notices.get_by_label("Email me a reminder before a loan is due")
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(notices.get_by_text("No more due-soon reminders.")).to_be_visible()
    accessible(page, "account (notices)")
    screenshot(page, "account-notices")
    bob.goto("#/account")
    expect(page.get_by_label("Email me a reminder before a loan is due")).not_to_be_checked()
    assert ui_stack.api_as("bob").get("/me/preferences").json() == {"reminders": False}
    page.get_by_label("Email me a reminder before a loan is due").check()
    expect(page.get_by_text("You will get a reminder before a loan is due.")).to_be_visible()
    assert ui_stack.api_as("bob").get("/me/preferences").json() == {"reminders": True}
