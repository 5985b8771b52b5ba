"""A customer turns on auto-renewal on their eSIM's page, in a real browser; the clock moves
past the renewal threshold, the sweep runs, and the page shows the next period queued and
the renewal's receipt.

The live server runs in this process, so it sees the clock time-machine moves. Celery runs
eagerly: the sweep's attempt task runs in place and pays the period from the wallet.
"""

from datetime import timedelta

import pytest
import time_machine
from djmoney.money import Money
from playwright.sync_api import Page, expect

from billing.models import AutoRenewal, Order, OrderLine, Renewal
from billing.selectors.ledger import wallet_balance
from billing.tasks import renewals_sweep_task
from catalog.models import Bundle
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.billing.renewal_support import run_bundle
from tests.browser.test_topup import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_auto_renewal_charges_the_wallet_and_queues_the_next_period(
    page: Page, live_server, django_capture_on_commit_callbacks
):
    plan = plan_for_sale(price="12.00", name="Japan 5 GB")
    customer = funded_customer("30.00", email="traveller@example.com")
    _order, card = bought_esim(customer, plan)
    bundle = run_bundle(card, ends_in=timedelta(days=3))
    sign_in(page, live_server, customer.email)

    page.goto(f"{live_server.url}/esims/{card.iccid}/")
    panel = page.get_by_test_id("auto-renewal")
    expect(panel.get_by_test_id("auto-renewal-status")).to_contain_text("Off")
    expect(panel.get_by_test_id("auto-renewal-rule")).to_contain_text(
        "We charge your wallet first, then your saved card, 24 hours before the period ends."
    )
    expect(panel.get_by_label("Renew to")).to_have_value(str(plan.pk))
    expect(panel.get_by_label("Currency")).to_have_value("USD")
    panel.get_by_role("button", name="Turn on auto-renewal").click()

    page.wait_for_url(f"{live_server.url}/esims/{card.iccid}/")
    expect(page.get_by_text("Auto-renewal is on: Japan 5 GB, paid in USD.")).to_be_visible()
    expect(panel.get_by_test_id("auto-renewal-status")).to_contain_text(
        "Renews to Japan 5 GB, paid in USD."
    )
    auto = AutoRenewal.objects.get(profile=card)
    assert (auto.enabled, auto.plan, auto.currency) == (True, plan, "USD")
    expect(page.get_by_test_id("bundle-row")).to_have_count(1)

    assert bundle.ends_at is not None
    with time_machine.travel(bundle.ends_at - timedelta(hours=12), tick=True):
        with django_capture_on_commit_callbacks(execute=True):
            assert renewals_sweep_task() == 1

        renewal = Renewal.objects.get(profile=card)
        assert renewal.status == Renewal.Status.SUCCEEDED
        assert renewal.paid_with == Renewal.PaidWith.WALLET
        assert renewal.period_start == bundle.ends_at
        assert wallet_balance(user=customer, currency="USD") == Money("6.00", "USD")
        order = renewal.order
        assert order is not None and order.status == Order.Status.FULFILLED
        assert order.lines.get().kind == OrderLine.Kind.RENEWAL

        page.reload()
        rows = page.get_by_test_id("bundle-row")
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text("Current")
        expect(rows.nth(1)).to_contain_text("Japan 5 GB")
        expect(rows.nth(1)).to_contain_text("Queued")
        queued = card.bundles.get(status=Bundle.Status.QUEUED)
        assert queued.starts_at == bundle.ends_at

        page.goto(f"{live_server.url}/orders/{order.public_id}/receipt/")
        expect(page.get_by_test_id("receipt-number")).to_have_text(order.number)
        line = page.get_by_test_id("order-line")
        expect(line).to_have_count(1)
        expect(line).to_contain_text("Japan 5 GB")
        expect(line).to_contain_text(f"for card {card.iccid}")
        expect(line).to_contain_text("12.00 USD")
