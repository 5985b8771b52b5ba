"""A customer with money in the wallet buys an eSIM in a real browser: confirms the destination,
places the order, pays from the wallet, then finds the QR code and activation code on the
eSIM's page and in the delivery email.

Celery runs eagerly and the live server's requests commit as they go, so fulfilment and the
delivery email happen in the server's thread before the order page is shown again; the email
lands in the locmem outbox this process shares with that thread.
"""

import re

import pytest
from djmoney.money import Money
from playwright.sync_api import Page, expect

from billing.models import Order
from billing.selectors.ledger import wallet_balance
from catalog.models import EsimProfile
from tests.billing.order_support import funded_customer, plan_for_sale
from tests.browser.test_topup import UUID, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_customer_buys_an_esim_with_the_wallet_and_installs_it(page: Page, live_server, mailoutbox):
    plan = plan_for_sale(price="12.50", stock=2, code="jp-5gb", name="Japan 5 GB", country="JP")
    customer = funded_customer("30.00", email="traveller@example.com")
    sign_in(page, live_server, customer.email)

    page.goto(f"{live_server.url}/checkout/{plan.code}/")
    expect(page.get_by_test_id("destination")).to_have_text("This eSIM works in: Japan")
    expect(page.get_by_test_id("summary-total")).to_have_text("12.50 USD")

    # Without the confirmation nothing is placed.
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Please confirm this eSIM works where you are going."
    )
    assert not Order.objects.exists()

    page.get_by_label("Yes, this is where I am going").check()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_url(re.compile(rf"/orders/{UUID}/$"))
    order = Order.objects.get()
    expect(page.locator("h1")).to_contain_text(f"Order {order.number}")
    expect(page.get_by_test_id("order-total")).to_have_text("12.50 USD")
    expect(page.get_by_test_id("wallet-balance")).to_have_text("30.00 USD")

    page.get_by_role("button", name="Pay from wallet").click()
    page.wait_for_url(f"{live_server.url}/orders/{order.public_id}/")
    expect(page.get_by_test_id("order-status")).to_have_text("Fulfilled")
    profile = EsimProfile.objects.get(owner=customer)
    iccid_link = page.get_by_test_id("delivered-iccid")
    expect(iccid_link).to_have_text(profile.iccid)
    assert wallet_balance(user=customer, currency="USD") == Money("17.50", "USD")

    # The eSIM's page: the QR code and the activation code.
    iccid_link.click()
    page.wait_for_url(f"{live_server.url}/esims/{profile.iccid}/")
    qr = page.get_by_test_id("esim-qr")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
    expect(page.get_by_test_id("activation-code")).to_have_text(profile.activation_code)

    # The delivery email carries the same code and the QR image inline.
    (message,) = mailoutbox
    assert message.to == [customer.email]
    assert profile.activation_code in message.body
    ((html, _mimetype),) = message.alternatives
    assert f'src="cid:qr-{profile.iccid}"' in html
