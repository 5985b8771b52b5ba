"""A customer tops up the wallet through the sandbox gateway, in a real browser.

The sandbox page's buttons send their signed events by HTTP to the webhook URL given at
checkout (the live server's own); Celery runs eagerly, so the delivery and the processing
happen in the server's threads before the sandbox redirects back.
"""

import re
import uuid
from decimal import Decimal

import pytest
from djmoney.money import Money
from playwright.sync_api import Page, expect

from billing.gateways import PaymentUpdate
from billing.models import BonusTier, Payment
from billing.selectors.ledger import wallet_balance
from billing.services.payments import payment_update_apply
from billing.services.topups import counter_topup_record
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def sign_in(page: Page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit]"
    ).click()
    page.wait_for_url(f"{live_server.url}/")


def start_topup(page: Page, live_server, *, bonus_on_60: str) -> None:
    """From the header's Wallet link to the sandbox page, for 100 USD."""
    page.get_by_role("navigation").get_by_role("link", name="Wallet").click()
    page.get_by_role("link", name="Top up", exact=True).click()
    page.wait_for_url(f"{live_server.url}/wallet/topup/")
    expect(page.locator("#topup-limits")).to_have_text("Minimum 5.00 USD, maximum 500.00 USD")
    expect(page.get_by_label("Test gateway")).to_be_checked()

    # Another amount first: the preview follows what is typed.
    page.get_by_label("Your amount in USD").fill("60")
    expect(page.get_by_label("Other amount")).to_be_checked()
    expect(page.get_by_test_id("preview-bonus")).to_have_text(f"{bonus_on_60} USD")
    total = Decimal(60) + Decimal(bonus_on_60)
    expect(page.get_by_test_id("preview-total")).to_have_text(f"{total} USD")
    # Then a preset, which clears it.
    page.get_by_label("100.00 USD").check()
    expect(page.get_by_label("Your amount in USD")).to_have_value("")

    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(rf"/pay/sandbox/{UUID}/$"))
    expect(page.locator(".sandbox-banner")).to_contain_text("Test gateway")
    expect(page.get_by_test_id("sandbox-amount")).to_have_text("100.00 USD")


def test_customer_tops_up_with_a_bonus_and_sees_it_in_the_wallet(page: Page, live_server):
    customer = UserFactory(email="traveller@example.com")
    BonusTier.objects.create(name="Summer bonus", currency="USD", min_amount=50, percent=5)
    sign_in(page, live_server, customer.email)

    start_topup(page, live_server, bonus_on_60="3.00")
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(re.compile(rf"/wallet/topups/{UUID}/$"))
    expect(page.locator("h1")).to_have_text("Top-up complete")
    expect(page.get_by_test_id("topup-amount")).to_have_text("100.00 USD")
    expect(page.get_by_test_id("topup-bonus")).to_have_text("5.00 USD")
    expect(page.get_by_test_id("topup-total")).to_have_text("105.00 USD")
    expect(page.get_by_test_id("wallet-balance")).to_have_text("105.00 USD")

    page.get_by_role("link", name="Go to the wallet").click()
    expect(page.get_by_test_id("balance-USD")).to_contain_text("105.00 USD")

    page.get_by_role("link", name="All top-ups").click()
    row = page.get_by_test_id("topup-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("100.00 USD")
    expect(row).to_contain_text("+5.00 USD")
    expect(row).to_contain_text("Succeeded")

    payment = Payment.objects.get()
    assert payment.status == Payment.Status.SUCCEEDED
    assert payment.bonus == Decimal("5.00")
    assert wallet_balance(user=customer, currency="USD") == Money("105.00", "USD")

    row.get_by_role("link", name=re.compile("^Receipt ")).click()
    expect(page.get_by_test_id("receipt-number")).to_have_text(payment.receipt_number)
    expect(page.get_by_test_id("receipt-total")).to_have_text("105.00 USD")


def test_a_declined_payment_leaves_the_wallet_as_it_was(page: Page, live_server):
    customer = UserFactory(email="traveller@example.com")
    counter_topup_record(
        customer=customer,
        amount=Money("20", "USD"),
        method=Payment.Method.CASH,
        reference="slip 7",
        actor=UserFactory(is_staff=True),
        request_token=uuid.uuid4(),
    )
    sign_in(page, live_server, customer.email)

    start_topup(page, live_server, bonus_on_60="0.00")
    page.get_by_role("button", name="Decline").click()

    page.wait_for_url(re.compile(rf"/wallet/topups/{UUID}/$"))
    expect(page.locator("h1")).to_have_text("Payment declined")
    expect(page.get_by_role("alert")).to_have_text(
        "The payment was declined. You were not charged."
    )
    expect(page.get_by_role("link", name="Try again")).to_have_attribute(
        "href", "/wallet/topup/?currency=USD"
    )

    page.get_by_role("link", name="Go to the wallet").click()
    expect(page.get_by_test_id("balance-USD")).to_contain_text("20.00 USD")
    rows = page.get_by_test_id("topup-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Failed")
    expect(rows.nth(1)).to_contain_text("Cash at the counter")

    assert wallet_balance(user=customer, currency="USD") == Money("20.00", "USD")
    declined = Payment.objects.get(method=Payment.Method.SANDBOX)
    assert declined.status == Payment.Status.FAILED


def test_the_return_page_updates_itself_when_the_payment_settles(page: Page, live_server):
    customer = UserFactory(email="traveller@example.com")
    payment = Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.WALLET_TOPUP,
        amount=Decimal("50.00"),
        currency="USD",
        method=Payment.Method.SANDBOX,
        gateway=Payment.Gateway.SANDBOX,
        status=Payment.Status.PENDING,
    )
    sign_in(page, live_server, customer.email)

    page.goto(f"{live_server.url}/wallet/topups/{payment.public_id}/")
    expect(page.locator("h1")).to_have_text("Your payment is processing")
    expect(page.locator(".spinner")).to_be_visible()

    # The gateway's word arrives while the customer watches (a webhook, or the sweeper).
    payment_update_apply(
        payment=payment, update=PaymentUpdate(status="succeeded", amount=payment.amount_money)
    )

    expect(page.locator("h1")).to_have_text("Top-up complete", timeout=10_000)
    expect(page.get_by_test_id("wallet-balance")).to_have_text("50.00 USD")
