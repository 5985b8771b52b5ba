"""Orders in the staff console: coupons kept by reseller staff, the read-only orders and their
search, fulfilling again, finance refunding an order and deciding customers' requests."""

import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.roles import FINANCE, RESELLER_STAFF
from billing.forms import REFUND_ALREADY_SUBMITTED, REFUND_REJECT_NOTE_REQUIRED
from billing.gateways.sandbox import sandbox_pay
from billing.models import Coupon, JournalEntry, Order, Payment, Refund, SandboxCharge
from billing.services.orders import LineRequest, order_pay_wallet, order_payment_start, order_place
from billing.services.payments import payment_refresh
from billing.services.refunds import refund_request
from billing.services.wallets import wallet_get
from catalog.models import CardBinding, EsimProfile
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import make_profiles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

COUPONS = "/admin/billing/coupon/"
ORDERS = "/admin/billing/order/"
REFUNDS = "/admin/billing/refund/"
Status = Order.Status


def staff(role: str, **kwargs) -> object:
    user = UserFactory(is_staff=True, **kwargs)
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def finance(client):
    return staff(FINANCE, email="finance@example.com")


@pytest.fixture
def reseller():
    return staff(RESELLER_STAFF, email="clerk@example.com")


def balance(customer, currency: str = "USD") -> Decimal:
    return wallet_get(user=customer, currency=currency).balance


def coupon_data(**fields) -> dict:
    now = timezone.localtime()
    return {
        "code": "spring-10",
        "description": "Spring sale",
        "kind": "percent",
        "percent": "10",
        "amount": "",
        "currency": "",
        "min_spend": "",
        "valid_from_0": now.strftime("%Y-%m-%d"),
        "valid_from_1": now.strftime("%H:%M:%S"),
        "valid_until_0": "",
        "valid_until_1": "",
        "max_uses": "100",
        "max_uses_per_customer": "1",
        "is_active": "on",
        "_save": "Save",
        **fields,
    }


def refund_post(client, order: Order, data: dict, token: str | None = None):
    """Submit an order's refund page, served with a fresh one-time token."""
    url = f"{ORDERS}{order.pk}/refund/"
    return client.post(url, {"token": token or str(uuid.uuid4()), **data})


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Coupons ------------------------------------------------------------------------------


def test_reseller_staff_create_a_coupon_stored_in_capitals(client, reseller):
    plan = plan_for_sale()
    client.force_login(reseller)
    assert client.get(f"{COUPONS}add/").status_code == 200
    response = client.post(f"{COUPONS}add/", coupon_data(plans=[plan.pk]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    coupon = Coupon.objects.get()
    assert coupon.code == "SPRING-10"
    assert (coupon.kind, coupon.percent, coupon.max_uses) == ("percent", Decimal("10"), 100)
    assert list(coupon.plans.all()) == [plan]
    assert coupon.uses == 0
    page = client.get(COUPONS)
    assert page.status_code == 200
    assert b"SPRING-10" in page.content
    assert b"0 / 100" in page.content


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "fixed", "percent": "", "amount": "", "currency": ""},  # no amount
        {"kind": "fixed", "percent": "", "amount": "5.00", "currency": ""},  # no currency
        {"kind": "percent", "percent": "10", "amount": "5.00", "currency": "USD"},  # both
        {"kind": "percent", "percent": "150"},  # over 100
    ],
)
def test_a_coupon_of_the_wrong_shape_is_a_form_error(client, reseller, fields):
    client.force_login(reseller)
    response = client.post(f"{COUPONS}add/", coupon_data(**fields))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.non_field_errors() == [
        "A percentage coupon needs a percentage from 0 to 100; a fixed one an amount and a "
        "currency."
    ]
    assert not Coupon.objects.exists()


def test_coupon_form_refuses_a_bad_code_a_bad_window_and_fewer_uses_than_made(client, reseller):
    client.force_login(reseller)
    # An hour before the start, computed whole so the test holds just after midnight too.
    before = timezone.localtime() - timezone.timedelta(hours=1)
    response = client.post(
        f"{COUPONS}add/",
        coupon_data(
            code="NO SPACES",
            valid_until_0=before.strftime("%Y-%m-%d"),
            valid_until_1=before.strftime("%H:%M:%S"),
            min_spend="5.00",
        ),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["code"] == ["Use letters, digits, dashes and underscores only."]
    assert errors["valid_until"] == ["The coupon must end after it starts."]
    assert errors["__all__"] == ["A minimum spend needs a currency."]
    assert not Coupon.objects.exists()

    coupon = Coupon.objects.create(code="USED", kind="percent", percent=5, max_uses=10, uses=4)
    response = client.post(f"{COUPONS}{coupon.pk}/change/", coupon_data(code="USED", max_uses="3"))
    assert response.status_code == 200  # not an IntegrityError from the uses <= max check
    assert response.context["adminform"].form.errors["max_uses"] == [
        "This coupon has been used 4 times already; allow at least that."
    ]


def test_finance_see_coupons_but_cannot_change_them(client, finance):
    coupon = Coupon.objects.create(code="LOOK", kind="percent", percent=5)
    client.force_login(finance)
    assert client.get(COUPONS).status_code == 200
    page = client.get(f"{COUPONS}{coupon.pk}/change/")
    assert page.status_code == 200
    assert b'name="code"' not in page.content  # read-only
    assert client.post(f"{COUPONS}add/", coupon_data()).status_code == 403


# --- Orders -------------------------------------------------------------------------------


def test_orders_are_found_by_number_email_and_iccid(client, reseller):
    plan = plan_for_sale()
    alice = funded_customer(email="alice@example.com")
    bob = funded_customer(email="bob@example.com")
    alice_order, alice_esim = bought_esim(alice, plan)
    bob_order, _bob_esim = bought_esim(bob, plan)
    client.force_login(reseller)

    def found(term: str) -> set[int]:
        response = client.get(ORDERS, {"q": term})
        assert response.status_code == 200
        return {order.pk for order in response.context["cl"].result_list}

    assert found(bob_order.number) == {bob_order.pk}
    assert found(f"o{alice_order.pk}") == {alice_order.pk}
    assert found("alice@") == {alice_order.pk}
    iccid = alice_esim.iccid
    spaced = " ".join(iccid[i : i + 4] for i in range(0, len(iccid), 4))
    assert found(spaced) == {alice_order.pk}
    assert found("O99999999") == set()


def test_an_order_page_shows_its_lines_deliveries_and_payment_read_only(client, reseller):
    plan = plan_for_sale(price="12.50")
    order, esim = bought_esim(funded_customer(), plan)
    client.force_login(reseller)
    page = client.get(f"{ORDERS}{order.pk}/change/")
    assert page.status_code == 200
    content = page.content.decode()
    assert order.number in content
    assert esim.iccid in content
    assert "12.50 USD" in content
    assert 'name="_save"' not in content
    assert f"{ORDERS}{order.pk}/refund/" not in content  # reseller staff cannot refund
    assert client.get(f"{ORDERS}add/").status_code == 403
    assert client.post(f"{ORDERS}{order.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_fulfil_again_delivers_an_order_once_stock_arrives(
    client, reseller, django_capture_on_commit_callbacks, mailoutbox
):
    plan = plan_for_sale(stock=0)
    customer = funded_customer()
    order = order_place(customer=customer, currency="USD", lines=[LineRequest("esim", plan)])
    order = order_pay_wallet(order=order)
    assert order.status == Status.AWAITING_STOCK
    client.force_login(reseller)
    awaiting = client.get(ORDERS, {"status__exact": Status.AWAITING_STOCK})
    assert [o.pk for o in awaiting.context["cl"].result_list] == [order.pk]

    action = {"action": "fulfil_again", "_selected_action": [order.pk]}
    response = client.post(ORDERS, action)
    assert "1 order is still waiting for stock." in messages_of(response)
    order.refresh_from_db()
    assert order.status == Status.AWAITING_STOCK

    make_profiles(plan, 1, start=990_000)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ORDERS, action, follow=True)
    assert "Delivered 1 order." in messages_of(response)
    order.refresh_from_db()
    assert order.status == Status.FULFILLED
    esim = EsimProfile.objects.get(deliveries__line__order=order)
    assert (esim.owner, esim.status) == (customer, EsimProfile.Status.ASSIGNED)
    assert [m.to for m in mailoutbox] == [[customer.email]]  # the delivery email

    # Again: nothing more to deliver.
    response = client.post(ORDERS, action)
    assert "Skipped 1 order that was not paid and waiting: nothing to deliver." in messages_of(
        response
    )
    assert EsimProfile.objects.filter(deliveries__line__order=order).count() == 1


def test_finance_cannot_run_fulfil_again(client, finance):
    bought_esim(funded_customer(), plan_for_sale())
    client.force_login(finance)
    page = client.get(ORDERS)
    assert page.status_code == 200
    assert b"fulfil_again" not in page.content


# --- Finance refunds an order -------------------------------------------------------------


def test_finance_refund_part_of_an_order_to_the_wallet(
    client, finance, django_capture_on_commit_callbacks, mailoutbox
):
    customer = funded_customer("100.00")
    order, esim = bought_esim(customer, plan_for_sale(price="10.00"))
    assert balance(customer) == Decimal("90.00")
    client.force_login(finance)
    page = client.get(f"{ORDERS}{order.pk}/change/")
    assert f"/admin/billing/order/{order.pk}/refund/".encode() in page.content
    form_page = client.get(f"{ORDERS}{order.pk}/refund/")
    assert form_page.status_code == 200
    assert form_page.context["form"]["amount"].initial == Decimal("10.00")
    # Paid from the wallet: the wallet is the only choice.
    assert [c[0] for c in form_page.context["form"].fields["destination"].choices] == ["wallet"]

    with django_capture_on_commit_callbacks(execute=True):
        response = refund_post(
            client,
            order,
            {"amount": "4.00", "destination": "wallet", "reason": "Goodwill", "profile": ""},
        )
    assert response.status_code == 302
    assert response["Location"] == f"{ORDERS}{order.pk}/change/"
    refund = Refund.objects.get()
    assert f"Refund {refund.number}: 4.00 USD credited to the customer's wallet." in (
        messages_of(response)
    )
    assert balance(customer) == Decimal("94.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Status.PARTIALLY_REFUNDED, Decimal("4.00"))
    assert (refund.status, refund.destination, refund.reason) == ("completed", "wallet", "Goodwill")
    assert (refund.requested_by, refund.decided_by) == (finance, finance)
    entry = JournalEntry.objects.get(kind=JournalEntry.Kind.REFUND)
    assert entry.created_by == finance
    esim.refresh_from_db()
    assert esim.status == EsimProfile.Status.ASSIGNED  # no eSIM chosen: it keeps working
    assert [m.to for m in mailoutbox] == [[customer.email]]


def test_finance_refund_an_esim_and_void_it(client, finance):
    customer = funded_customer()
    order, esim = bought_esim(customer, plan_for_sale(price="10.00"))
    client.force_login(finance)
    response = refund_post(
        client,
        order,
        {"amount": "10.00", "destination": "wallet", "reason": "Wrong country", "profile": esim.pk},
    )
    assert response.status_code == 302
    esim.refresh_from_db()
    assert esim.status == EsimProfile.Status.VOID
    order.refresh_from_db()
    assert order.status == Status.REFUNDED
    assert Refund.objects.get().profile == esim


def gateway_paid_order(customer, plan, capture) -> Order:
    """An order paid through the sandbox gateway: started, paid on its page, confirmed, and
    fulfilled by the task its payment queues."""
    with capture(execute=True):
        order = _gateway_paid(customer, plan)
    order.refresh_from_db()
    assert (order.status, order.paid_with) == (Status.FULFILLED, Order.PaidWith.GATEWAY)
    return order


def _gateway_paid(customer, plan) -> Order:
    order = order_place(customer=customer, currency="USD", lines=[LineRequest("esim", plan)])
    payment = order_payment_start(
        order=order,
        method=Payment.Method.SANDBOX,
        request_token=uuid.uuid4(),
        return_url=lambda p: f"http://testserver/orders/{p.public_id}/",
        cancel_url="http://testserver/checkout/",
        webhook_url="",  # no event over HTTP: the payment is asked about below
    )
    charge = SandboxCharge.objects.get(reference=str(payment.public_id))
    sandbox_pay(token=charge.token)
    payment_refresh(payment_id=payment.pk)
    return order


def test_finance_refund_to_the_original_payment_method_through_the_sandbox(
    client, finance, django_capture_on_commit_callbacks
):
    customer = UserFactory()
    order = gateway_paid_order(
        customer, plan_for_sale(price="20.00"), django_capture_on_commit_callbacks
    )
    client.force_login(finance)
    form_page = client.get(f"{ORDERS}{order.pk}/refund/")
    choices = [c[0] for c in form_page.context["form"].fields["destination"].choices]
    assert choices == ["wallet", "original"]

    response = refund_post(
        client,
        order,
        {"amount": "15.00", "destination": "original", "reason": "Trip canceled"},
    )
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.status, refund.destination) == (Refund.Status.COMPLETED, "original")
    assert refund.gateway_refund_id
    payment = Payment.objects.get(order=order)
    assert payment.refunded_amount == Decimal("15.00")
    assert payment.status == Payment.Status.PARTIALLY_REFUNDED
    charge = SandboxCharge.objects.get(reference=str(payment.public_id))
    assert charge.amount_refunded == Decimal("15.00")
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Status.PARTIALLY_REFUNDED, Decimal("15.00"))
    assert balance(customer) == 0  # not to the wallet
    assert f"Refund {refund.number}: 15.00 USD sent back to the original payment method." in (
        messages_of(response)
    )


def test_a_refund_larger_than_what_is_left_is_a_form_error_and_writes_nothing(client, finance):
    customer = funded_customer()
    order, _esim = bought_esim(customer, plan_for_sale(price="10.00"))
    client.force_login(finance)
    data = {"destination": "wallet", "reason": "Too much"}
    refund_post(client, order, {**data, "amount": "6.00"})
    response = refund_post(client, order, {**data, "amount": "4.01"})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"] == [
        "At most 4.00 USD of this order is left to refund."
    ]
    for bad in ("0", "-1", "1.001"):
        response = refund_post(client, order, {**data, "amount": bad})
        assert response.status_code == 200 and response.context["form"].errors["amount"]
    response = refund_post(
        client, order, {"amount": "1.00", "destination": "wallet", "reason": " "}
    )
    assert response.context["form"].errors["reason"] == ["Give the reason for this refund."]
    response = refund_post(client, order, {**data, "amount": "1.00", "destination": "original"})
    assert response.context["form"].errors["destination"]
    assert Refund.objects.count() == 1
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).count() == 1
    assert balance(customer) == Decimal("96.00")
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("6.00")


def test_the_same_refund_page_submitted_twice_refunds_once(client, finance):
    customer = funded_customer()
    order, _esim = bought_esim(customer, plan_for_sale(price="10.00"))
    client.force_login(finance)
    data = {"amount": "3.00", "destination": "wallet", "reason": "Double click"}
    token = str(uuid.uuid4())
    assert refund_post(client, order, data, token).status_code == 302
    again = refund_post(client, order, data, token)
    assert again.status_code == 200
    assert again.context["form"].non_field_errors() == [str(REFUND_ALREADY_SUBMITTED)]
    assert again.context["form"]["token"].value() != token  # a fresh one for a real second
    assert Refund.objects.count() == 1
    assert balance(customer) == Decimal("93.00")
    # A refused submission does not use the token up.
    refused = {**data, "amount": "8.00"}
    other = str(uuid.uuid4())
    assert refund_post(client, order, refused, other).status_code == 200
    assert refund_post(client, order, data, other).status_code == 302
    assert balance(customer) == Decimal("96.00")


def test_the_service_refusal_lands_on_the_form(client, finance):
    customer = funded_customer()
    order = order_place(
        customer=customer, currency="USD", lines=[LineRequest("esim", plan_for_sale())]
    )
    client.force_login(finance)
    response = refund_post(
        client,
        order,
        {"amount": "1.00", "destination": "wallet", "reason": "Not paid yet"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == ["Only a paid order can be refunded."]
    assert not Refund.objects.exists()


# --- Finance decide a customer's request ---------------------------------------------------


@pytest.fixture
def requested():
    """A Chinese-speaking customer asks for an unused eSIM's 10.00 USD back."""
    customer = funded_customer(email="wang.fang@example.com", preferred_language="zh-hans")
    _order, esim = bought_esim(customer, plan_for_sale(price="10.00"))
    return refund_request(customer=customer, profile=esim, reason="Bought the wrong country")


def test_the_refund_queue_puts_requests_first(client, finance, requested):
    customer = requested.order.customer
    other, _esim = bought_esim(customer, plan_for_sale(price="5.00"))
    client.force_login(finance)
    refund_post(
        client,
        other,
        {"amount": "5.00", "destination": "wallet", "reason": "Later, and completed"},
    )
    later = Refund.objects.exclude(pk=requested.pk).get()
    response = client.get(REFUNDS)
    assert response.status_code == 200
    assert [r.pk for r in response.context["cl"].result_list] == [requested.pk, later.pk]
    assert requested.profile.iccid.encode() in response.content
    page = client.get(f"{REFUNDS}{requested.pk}/change/")
    assert page.status_code == 200
    assert f"{REFUNDS}{requested.pk}/approve/".encode() in page.content
    assert b"Bought the wrong country" in page.content


def test_finance_approve_a_request_to_the_wallet(
    client, finance, requested, django_capture_on_commit_callbacks, mailoutbox
):
    customer = requested.order.customer
    before = balance(customer)
    client.force_login(finance)
    url = f"{REFUNDS}{requested.pk}/approve/"
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"]["amount"].initial == Decimal("10.00")
    content = page.content.decode()
    assert requested.profile.iccid in content
    assert "Order total" in content and "10.00 USD" in content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"amount": "7.50", "destination": "wallet", "note": "Sorry!"})
    assert response.status_code == 302
    assert response["Location"] == f"{REFUNDS}{requested.pk}/change/"
    requested.refresh_from_db()
    assert (requested.status, requested.amount) == (Refund.Status.COMPLETED, Decimal("7.50"))
    assert (requested.decided_by, requested.decision_note) == (finance, "Sorry!")
    assert balance(customer) == before + Decimal("7.50")
    requested.profile.refresh_from_db()
    assert requested.profile.status == EsimProfile.Status.VOID
    (email,) = mailoutbox
    assert email.to == [customer.email]
    assert "wang.fang@example.com，您好：" in email.body  # in the customer's language
    assert "Sorry!" in email.body

    # Decided: the page sends finance back to the refund.
    again = client.post(url, {"amount": "2.50", "destination": "wallet"})
    assert again.status_code == 302
    assert balance(customer) == before + Decimal("7.50")


def test_approving_more_than_is_left_is_a_form_error(client, finance, requested):
    client.force_login(finance)
    response = client.post(
        f"{REFUNDS}{requested.pk}/approve/", {"amount": "10.01", "destination": "wallet"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    requested.refresh_from_db()
    assert requested.status == Refund.Status.REQUESTED
    assert not JournalEntry.objects.filter(kind=JournalEntry.Kind.REFUND).exists()


def test_finance_reject_a_request_with_a_note(
    client, finance, requested, django_capture_on_commit_callbacks, mailoutbox
):
    customer = requested.order.customer
    before = balance(customer)
    client.force_login(finance)
    url = f"{REFUNDS}{requested.pk}/reject/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"note": "   "})
    assert response.status_code == 200
    assert response.context["form"].errors["note"] == [str(REFUND_REJECT_NOTE_REQUIRED)]
    requested.refresh_from_db()
    assert requested.status == Refund.Status.REQUESTED

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"note": "The eSIM was installed."})
    assert response.status_code == 302
    assert f"Refund {requested.number} rejected; the customer has been told why." in (
        messages_of(response)
    )
    requested.refresh_from_db()
    assert (requested.status, requested.decided_by) == (Refund.Status.REJECTED, finance)
    assert balance(customer) == before
    requested.profile.refresh_from_db()
    assert requested.profile.status == EsimProfile.Status.ASSIGNED
    (email,) = mailoutbox
    assert email.to == [customer.email]
    assert "wang.fang@example.com，您好：" in email.body
    assert "The eSIM was installed." in email.body


def test_reseller_staff_see_orders_and_refunds_but_cannot_decide(client, reseller, requested):
    order = requested.order
    client.force_login(reseller)
    assert client.get(REFUNDS).status_code == 200
    page = client.get(f"{REFUNDS}{requested.pk}/change/")
    assert page.status_code == 200
    assert b"/approve/" not in page.content
    for url in (
        f"{REFUNDS}{requested.pk}/approve/",
        f"{REFUNDS}{requested.pk}/reject/",
        f"{ORDERS}{order.pk}/refund/",
    ):
        assert client.get(url).status_code == 403
    data = {"amount": "10.00", "destination": "wallet", "note": "x", "reason": "x"}
    assert client.post(f"{REFUNDS}{requested.pk}/approve/", data).status_code == 403
    assert client.post(f"{REFUNDS}{requested.pk}/reject/", data).status_code == 403
    assert refund_post(client, order, data).status_code == 403
    requested.refresh_from_db()
    assert requested.status == Refund.Status.REQUESTED
    assert Refund.objects.count() == 1


@pytest.mark.parametrize("role", [FINANCE, RESELLER_STAFF])
def test_the_lists_render_for_both_roles(client, role, requested):
    client.force_login(staff(role))
    order = requested.order
    for url in (
        ORDERS,
        f"{ORDERS}{order.pk}/change/",
        REFUNDS,
        f"{REFUNDS}{requested.pk}/change/",
        COUPONS,
        f"{ORDERS}?status__exact=awaiting_stock",
        f"{REFUNDS}?status__exact=requested",
    ):
        assert client.get(url).status_code == 200, url


def test_a_payment_links_to_its_order(client, finance, django_capture_on_commit_callbacks):
    order = gateway_paid_order(UserFactory(), plan_for_sale(), django_capture_on_commit_callbacks)
    payment = Payment.objects.get(order=order)
    client.force_login(finance)
    page = client.get(f"/admin/billing/payment/{payment.pk}/change/")
    assert page.status_code == 200
    assert f'href="{ORDERS}{order.pk}/change/"'.encode() in page.content


# --- Catalog: add-on mode, bound cards --------------------------------------------------


def test_bound_cards_are_found_by_iccid_and_read_only(client, reseller):
    customer = funded_customer()
    _order, esim = bought_esim(customer, plan_for_sale())
    CardBinding.objects.create(customer=customer, profile=esim, label="Mum's phone")
    client.force_login(reseller)
    response = client.get(
        "/admin/catalog/cardbinding/", {"q": f"{esim.iccid[:4]} {esim.iccid[4:]}"}
    )
    assert response.status_code == 200
    assert [b.profile_id for b in response.context["cl"].result_list] == [esim.pk]
    assert client.get("/admin/catalog/cardbinding/", {"q": customer.email}).status_code == 200
    assert client.get("/admin/catalog/cardbinding/add/").status_code == 403


def test_the_plan_form_has_the_addon_mode_beside_fits(admin_client):
    page = admin_client.get("/admin/catalog/plan/add/")
    assert page.status_code == 200
    fields = page.context["adminform"].form.fields
    names = list(fields)
    assert names.index("addon_mode") == names.index("fits") + 1
