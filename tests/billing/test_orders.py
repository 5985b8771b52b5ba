"""Placing an order (prices copied, what may be bought, double submits, tax) and paying it
from the wallet in one all-or-nothing step, down to the delivery email."""

import re
import uuid
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import translation
from djmoney.money import Money

from billing.exceptions import InsufficientFunds, OrderRefused
from billing.models import Delivery, JournalEntry, LedgerAccount, Order, OrderLine
from billing.services.orders import LineRequest, order_pay_wallet, order_place, order_quote
from billing.services.wallets import wallet_get
from catalog.install import ios_install_url
from catalog.models import Bundle, EsimProfile, Plan
from catalog.services import plan_price_set
from tests.billing.conftest import balance_of
from tests.billing.order_support import (
    addon_for,
    bought_esim,
    entry_postings,
    funded_customer,
    plan_for_sale,
)

pytestmark = pytest.mark.django_db
Purpose = LedgerAccount.Purpose
Kind = OrderLine.Kind


def esim(plan: Plan, quantity: int = 1) -> LineRequest:
    return LineRequest(kind=Kind.ESIM, plan=plan, quantity=quantity)


def place(customer, *lines: LineRequest, currency: str = "USD", **kwargs) -> Order:
    return order_place(customer=customer, currency=currency, lines=list(lines), **kwargs)


# --- Placing ------------------------------------------------------------------------


def test_the_price_is_copied_onto_the_line_and_a_later_change_leaves_it_alone():
    plan = plan_for_sale(price="12.50")
    customer = funded_customer("0")
    order = place(customer, esim(plan, 2))

    plan_price_set(plan=plan, currency="USD", amount=Decimal("20.00"), actor=None)

    line = OrderLine.objects.get(order=order)
    assert (line.unit_price, line.quantity, line.total) == (
        Decimal("12.50"),
        2,
        Decimal("25.00"),
    )
    assert line.description == plan.name
    order.refresh_from_db()
    assert (order.status, order.subtotal, order.total) == (
        Order.Status.PENDING_PAYMENT,
        Decimal("25.00"),
        Decimal("25.00"),
    )
    # A new order pays the new price.
    assert place(customer, esim(plan)).total == Decimal("20.00")


def test_a_plan_not_priced_in_the_currency_is_refused():
    plan = plan_for_sale(price="10.00", currency="USD")
    with pytest.raises(OrderRefused, match="is not sold in CNY"):
        place(funded_customer("0"), esim(plan), currency="CNY")
    assert not Order.objects.exists()


def test_a_currency_not_offered_is_refused():
    plan = plan_for_sale()
    with pytest.raises(OrderRefused, match="JPY"):
        place(funded_customer("0"), esim(plan), currency="JPY")


def test_an_inactive_plan_is_refused():
    plan = plan_for_sale(is_active=False)
    with pytest.raises(OrderRefused):
        place(funded_customer("0"), esim(plan))
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", [0, 11])
def test_quantity_outside_one_to_ten_is_refused(quantity):
    plan = plan_for_sale()
    with pytest.raises(OrderRefused, match="1 to 10"):
        place(funded_customer("0"), esim(plan, quantity))
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", [1, 10])
def test_quantity_at_the_bounds_is_accepted(quantity):
    plan = plan_for_sale(price="1.00")
    order = place(funded_customer("0"), esim(plan, quantity))
    assert order.total == Decimal(quantity)


def test_an_addon_is_not_sold_as_a_new_esim():
    base = plan_for_sale()
    addon = addon_for(base)
    with pytest.raises(OrderRefused, match="card you already have"):
        place(funded_customer("0"), esim(addon))


def test_an_addon_that_does_not_fit_the_card_is_refused():
    customer = funded_customer()
    plan = plan_for_sale()
    other = plan_for_sale(country="FR")
    foreign_addon = addon_for(other)
    _order, profile = bought_esim(customer, plan)

    with pytest.raises(OrderRefused, match="does not fit"):
        place(customer, LineRequest(kind=Kind.ADDON, plan=foreign_addon, profile=profile))
    assert Order.objects.count() == 1


def test_an_addon_that_fits_is_accepted():
    customer = funded_customer()
    plan = plan_for_sale()
    addon = addon_for(plan, price="3.00")
    _order, profile = bought_esim(customer, plan)
    order = place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))
    line = order.lines.get()
    assert (line.kind, line.profile, line.unit_price) == (Kind.ADDON, profile, Decimal("3.00"))


def test_an_extend_addon_needs_a_running_bundle():
    customer = funded_customer()
    plan = plan_for_sale()
    addon = addon_for(plan, mode=Plan.AddonMode.EXTEND)
    _order, profile = bought_esim(customer, plan)
    Bundle.objects.filter(profile=profile).update(status=Bundle.Status.EXPIRED)
    with pytest.raises(OrderRefused, match="running plan"):
        place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile))


@pytest.mark.parametrize("status", [EsimProfile.Status.EXPIRED, EsimProfile.Status.VOID])
def test_an_expired_or_void_card_is_refused(status):
    customer = funded_customer()
    plan = plan_for_sale()
    addon = addon_for(plan)
    _order, profile = bought_esim(customer, plan)
    EsimProfile.objects.filter(pk=profile.pk).update(status=status)
    profile.refresh_from_db()

    for line in (
        LineRequest(kind=Kind.ADDON, plan=addon, profile=profile),
        LineRequest(kind=Kind.RENEWAL, plan=plan, profile=profile),
    ):
        with pytest.raises(OrderRefused, match="expired or was voided"):
            place(customer, line)
    assert Order.objects.count() == 1


def test_renewal_of_a_non_renewable_plan_is_refused():
    customer = funded_customer()
    plan = plan_for_sale(renewable=False)
    _order, profile = bought_esim(customer, plan)
    with pytest.raises(OrderRefused, match="cannot renew"):
        place(customer, LineRequest(kind=Kind.RENEWAL, plan=plan, profile=profile))


def test_renewal_with_a_plan_of_other_coverage_is_refused():
    customer = funded_customer()
    plan = plan_for_sale()
    elsewhere = plan_for_sale(country="FR")
    _order, profile = bought_esim(customer, plan)
    with pytest.raises(OrderRefused, match="cannot renew"):
        place(customer, LineRequest(kind=Kind.RENEWAL, plan=elsewhere, profile=profile))
    order = place(customer, LineRequest(kind=Kind.RENEWAL, plan=plan, profile=profile))
    assert order.lines.get().kind == Kind.RENEWAL


def test_a_card_line_takes_one_at_a_time():
    customer = funded_customer()
    plan = plan_for_sale()
    addon = addon_for(plan)
    _order, profile = bought_esim(customer, plan)
    with pytest.raises(OrderRefused, match="one add-on"):
        place(customer, LineRequest(kind=Kind.ADDON, plan=addon, profile=profile, quantity=2))


def test_the_same_request_token_gives_back_the_same_order():
    plan = plan_for_sale()
    customer = funded_customer("0")
    token = uuid.uuid4()
    first = place(customer, esim(plan), request_token=token)
    second = place(customer, esim(plan, 3), request_token=token)
    assert second.pk == first.pk
    assert Order.objects.count() == 1
    assert OrderLine.objects.get().quantity == 1
    # Another token is another order.
    assert place(customer, esim(plan), request_token=uuid.uuid4()).pk != first.pk


@override_settings(SIMDESK_TAX={"label": "VAT", "rate": "20"})
def test_tax_included_in_the_total_when_configured():
    plan = plan_for_sale(price="12.00")
    order = place(funded_customer("0"), esim(plan))
    # 12.00 includes 20% VAT: 12 - 12 / 1.2 = 2.00
    assert (order.total, order.tax, order.tax_label) == (
        Decimal("12.00"),
        Decimal("2.00"),
        "VAT 20%",
    )


@override_settings(SIMDESK_TAX={"label": "", "rate": ""})
def test_no_tax_line_when_not_configured():
    plan = plan_for_sale(price="12.00")
    order = place(funded_customer("0"), esim(plan))
    assert (order.tax, order.tax_label) == (Decimal(0), "")


def test_the_quote_reads_only():
    plan = plan_for_sale(price="7.00")
    customer = funded_customer("0")
    quote = order_quote(customer=customer, currency="USD", lines=[esim(plan, 2)])
    assert (quote.subtotal, quote.total, quote.unit_prices) == (
        Decimal("14.00"),
        Decimal("14.00"),
        [Decimal("7.00")],
    )
    assert not Order.objects.exists()


# --- Paying from the wallet -----------------------------------------------------------


def test_too_little_in_the_wallet_raises_with_the_shortfall_and_writes_nothing():
    plan = plan_for_sale(price="25.00", stock=2)
    customer = funded_customer("10.00")
    order = place(customer, esim(plan))
    entries_before = JournalEntry.objects.count()

    with pytest.raises(InsufficientFunds) as refused:
        order_pay_wallet(order=order)

    assert refused.value.shortfall == Money("15.00", "USD")
    assert refused.value.balance == Money("10.00", "USD")
    assert JournalEntry.objects.count() == entries_before
    assert not JournalEntry.objects.filter(idempotency_key=f"order:{order.pk}:sale").exists()
    order.refresh_from_db()
    assert (order.status, order.paid_at, order.paid_with) == (
        Order.Status.PENDING_PAYMENT,
        None,
        "",
    )
    assert EsimProfile.objects.filter(plan=plan, status=EsimProfile.Status.AVAILABLE).count() == 2
    assert not Bundle.objects.exists() and not Delivery.objects.exists()
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("10.00")


def test_paying_from_the_wallet_posts_the_sale_and_delivers(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(price="10.00", stock=3, data_mb=3072)
    customer = funded_customer("50.00")
    order = place(customer, esim(plan, 2))

    with django_capture_on_commit_callbacks(execute=True):
        paid = order_pay_wallet(order=order)

    wallet = wallet_get(user=customer, currency="USD")
    assert balance_of(wallet) == Decimal("30.00")
    sale = JournalEntry.objects.get(idempotency_key=f"order:{order.pk}:sale")
    assert sale.kind == JournalEntry.Kind.PURCHASE
    assert entry_postings(sale.idempotency_key) == {
        Purpose.CUSTOMER_WALLET: Decimal("20.00"),
        Purpose.SALES_REVENUE: Decimal("-20.00"),
    }
    paid.refresh_from_db()
    assert paid.status == Order.Status.FULFILLED
    assert paid.paid_with == Order.PaidWith.WALLET
    assert paid.paid_at is not None and paid.fulfilled_at is not None

    profiles = list(EsimProfile.objects.filter(deliveries__line__order=order))
    assert len(profiles) == 2
    assert {(p.status, p.owner_id) for p in profiles} == {
        (EsimProfile.Status.ASSIGNED, customer.pk)
    }
    bundles = list(Bundle.objects.filter(profile__in=profiles))
    assert [(b.plan_id, b.status, b.data_allowance_mb) for b in bundles] == [
        (plan.pk, Bundle.Status.QUEUED, 3072)
    ] * 2
    assert EsimProfile.objects.filter(plan=plan, status=EsimProfile.Status.AVAILABLE).count() == 1

    # Cost of sales: the two profiles' wholesale cost out of inventory.
    line = order.lines.get()
    assert entry_postings(f"orderline:{line.pk}:cost:USD") == {
        Purpose.COST_OF_SALES: Decimal("6.40"),
        Purpose.ESIM_INVENTORY: Decimal("-6.40"),
    }
    assert len(mailoutbox) == 1


def test_the_delivery_email_has_everything_to_install(
    django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale()
    customer = funded_customer()
    with django_capture_on_commit_callbacks(execute=True):
        order, profile = bought_esim(customer, plan)

    (message,) = mailoutbox
    assert message.to == [customer.email]
    assert message.subject == f"Your order {order.number} is ready"
    code = profile.activation_code
    assert code == f"LPA:1$smdp.test.simdesk.test${profile.matching_id}"
    ios = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=" + code
    assert ios_install_url(code) == ios
    for part in (code, profile.smdp_address, profile.matching_id, profile.iccid, ios):
        assert part in message.body
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    content_id = f"qr-{profile.iccid}"
    assert f'<img src="cid:{content_id}"' in html
    assert ios in html.replace("&amp;", "&")
    images = [a for a in message.attachments if not isinstance(a, tuple)]
    assert len(images) == 1
    assert images[0].get_content_type() == "image/png"
    assert images[0]["Content-ID"] == f"<{content_id}>"
    assert images[0].get_payload(decode=True).startswith(b"\x89PNG")
    # The whole message is multipart/related, so clients show the image inside the HTML.
    raw = message.message().as_string()
    assert "multipart/related" in raw
    # Sent once: the task run again finds it sent.
    from billing.services.delivery import order_delivery_send

    assert order_delivery_send(order_id=order.pk) is False
    assert len(mailoutbox) == 1


def test_the_delivery_email_is_rendered_in_the_customers_language(
    django_capture_on_commit_callbacks, mailoutbox
):
    # The catalogs are translated later; the plan's Chinese name shows the language was on.
    plan = plan_for_sale(name="Japan 5 GB", name_zh_hans="日本 5GB")
    customer = funded_customer(preferred_language="zh-hans")
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        order, profile = bought_esim(customer, plan)
        assert translation.get_language() == "en"

    (message,) = mailoutbox
    assert "日本 5GB" in message.body
    assert "Japan 5 GB" not in message.body
    assert order.number in message.subject
    assert profile.activation_code in message.body

    english = funded_customer(preferred_language="en")
    with django_capture_on_commit_callbacks(execute=True):
        bought_esim(english, plan)
    assert "Japan 5 GB" in mailoutbox[1].body


def test_paying_twice_debits_once(django_capture_on_commit_callbacks, mailoutbox):
    plan = plan_for_sale(price="10.00")
    customer = funded_customer("30.00")
    order = place(customer, esim(plan))
    with django_capture_on_commit_callbacks(execute=True):
        first = order_pay_wallet(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        second = order_pay_wallet(order=order)

    assert second.pk == first.pk
    assert second.status == Order.Status.FULFILLED
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("20.00")
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.PURCHASE).count() == 1
    assert EsimProfile.objects.filter(owner=customer).count() == 1
    assert len(mailoutbox) == 1


def test_a_canceled_order_cannot_be_paid():
    plan = plan_for_sale()
    customer = funded_customer()
    order = place(customer, esim(plan))
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELED)
    with pytest.raises(OrderRefused, match="canceled"):
        order_pay_wallet(order=order)
    assert balance_of(wallet_get(user=customer, currency="USD")) == Decimal("100.00")


def test_the_order_number_reads_well():
    plan = plan_for_sale()
    order = place(funded_customer("0"), esim(plan))
    assert re.fullmatch(r"O\d{8}", order.number)
    assert int(order.number[1:]) == order.pk
