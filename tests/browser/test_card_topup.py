"""A customer tops up their card by its number through the sandbox gateway, in a real browser.

As in test_topup.py: the sandbox page's buttons send their signed events by HTTP to the
webhook URL given at checkout (the live server's own); Celery runs eagerly, so the payment is
applied and the order fulfilled in the server's threads.
"""

import re

import pytest
from djmoney.money import Money
from playwright.sync_api import Page, expect

from billing.models import Order, OrderLine, Payment
from billing.selectors.ledger import wallet_balance
from catalog.models import Bundle
from tests.billing.order_support import addon_for, bought_esim, funded_customer, plan_for_sale
from tests.browser.test_topup import UUID, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_customer_tops_up_a_card_by_its_number_through_the_gateway(page: Page, live_server):
    plan = plan_for_sale(price="12.00", name="Japan 5 GB")
    addon = addon_for(plan, price="3.00", data_mb=1024)
    customer = funded_customer("12.00", email="traveller@example.com")
    _order, card = bought_esim(customer, plan)
    assert wallet_balance(user=customer, currency="USD") == Money("0.00", "USD")
    sign_in(page, live_server, customer.email)

    page.goto(f"{live_server.url}/topup-card/")
    typed = " ".join(card.iccid[i : i + 4] for i in range(0, len(card.iccid), 4))
    page.get_by_label("Card number (ICCID)").fill(typed)
    page.get_by_role("button", name="Find the card").click()

    expect(page.get_by_test_id("card-plan")).to_have_text("Japan 5 GB")
    expect(page.get_by_test_id("card-iccid")).to_have_text(card.iccid)
    expect(page.get_by_test_id("bundle-row")).to_have_count(1)
    option = page.get_by_test_id("card-option").filter(has_text="Japan 5 GB add-on 1024 MB")
    expect(option).to_contain_text("3.00 USD")
    expect(option).to_contain_text("Starts when the current bundle ends")
    option.click()
    page.get_by_role("button", name="Buy and pay").click()

    page.wait_for_url(re.compile(rf"/orders/{UUID}/$"))
    order = Order.objects.get(lines__kind=OrderLine.Kind.ADDON)
    assert order.status == Order.Status.PENDING_PAYMENT
    expect(page.get_by_test_id("wallet-balance")).to_have_text("0.00 USD")
    page.get_by_label("Test gateway").check()
    page.get_by_role("button", name="Continue to payment").click()

    page.wait_for_url(re.compile(rf"/pay/sandbox/{UUID}/$"))
    expect(page.get_by_test_id("sandbox-amount")).to_have_text("3.00 USD")
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(f"{live_server.url}/orders/{order.public_id}/")
    expect(page.get_by_test_id("delivered-iccid")).to_have_text(card.iccid, timeout=15_000)

    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    assert order.paid_with == Order.PaidWith.GATEWAY
    assert Payment.objects.get(order=order).status == Payment.Status.SUCCEEDED
    bundles = list(card.bundles.order_by("pk"))
    assert [b.plan for b in bundles] == [plan, addon]
    assert bundles[1].status == Bundle.Status.QUEUED
    assert bundles[1].data_allowance_mb == 1024
    assert wallet_balance(user=customer, currency="USD") == Money("0.00", "USD")

    page.goto(f"{live_server.url}/esims/{card.iccid}/")
    rows = page.get_by_test_id("bundle-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Japan 5 GB add-on 1024 MB")
    expect(rows.nth(1)).to_contain_text("Queued")
