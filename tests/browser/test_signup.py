import re

import pytest
from django.core import mail

from accounts.models import User

pytestmark = pytest.mark.browser

PASSWORD = "a long travel password 2026"


def test_visitor_switches_to_chinese_signs_up_and_verifies(page, live_server):
    page.goto(live_server.url)
    assert page.locator("h1").inner_text() == "Mobile data for your trip, ready before you land"

    # The switcher is a link (GET); the footer shows it without opening a menu.
    page.get_by_role("contentinfo").get_by_role("link", name="简体中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "出行流量，落地前就已备好"
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    page.get_by_role("link", name="注册").click()
    page.get_by_label("电子邮件").fill("traveller@example.com")
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=password2]").fill(PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password2]")).locator(
        "button[type=submit]"
    ).click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$"))

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["traveller@example.com"]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)

    page.goto(link)

    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_role("button", name="退出").is_visible()
    assert page.get_by_role("navigation").get_by_role("link", name="我的账户").is_visible()
    user = User.objects.get(email="traveller@example.com")
    assert user.preferred_language == "zh-hans"
    assert user.emailaddress_set.get().verified
