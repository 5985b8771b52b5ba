"""The staff console's index is the reseller's dashboard: sales per currency and window, and
the work waiting for staff, each section shown only to who may view what it lists."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import Order, Payment, Refund, Renewal, SupportRequest
from billing.selectors.dashboard import (
    STOCK_LOW,
    STOCK_OK,
    STOCK_OUT,
    orders_awaiting_stock,
    payments_stuck,
    plans_stock,
    renewals_failed,
    sales_paid_orders,
    sales_refunds,
    sales_wallet_topups,
    sales_window_starts,
    support_requests_open,
)
from catalog.models import Plan
from tests.catalog.factories import PlanFactory, make_profiles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
DAY = datetime.timedelta(days=1)


def paid_order(customer, total: str, currency: str, paid_at: datetime.datetime, **fields) -> Order:
    amount = Decimal(total)
    return Order.objects.create(
        customer=customer,
        currency=currency,
        status=fields.pop("status", Order.Status.FULFILLED),
        subtotal=amount,
        total=amount,
        paid_with=Order.PaidWith.WALLET,
        created_at=paid_at,
        paid_at=paid_at,
        **fields,
    )


def gateway_payment(customer, amount: str, **fields) -> Payment:
    return Payment.objects.create(
        customer=customer,
        purpose=Payment.Purpose.WALLET_TOPUP,
        amount=Decimal(amount),
        currency=fields.pop("currency", "USD"),
        method=Payment.Method.SANDBOX,
        gateway=Payment.Gateway.SANDBOX,
        **fields,
    )


def staff_with(*codenames: str):
    """A staff user holding exactly these permissions ("app.codename")."""
    user = UserFactory(is_staff=True)
    for name in codenames:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def figures(rows) -> dict[str, dict[str, tuple[int, Decimal]]]:
    return {
        row.currency: {
            "today": (row.today.count, row.today.amount),
            "week": (row.week.count, row.week.amount),
            "month": (row.month.count, row.month.amount),
        }
        for row in rows
    }


# --- Sales ---------------------------------------------------------------------------------


def test_paid_orders_per_currency_and_window():
    now = timezone.now()
    customer = UserFactory()
    paid_order(customer, "10.00", "USD", now)
    paid_order(customer, "2.50", "USD", now, status=Order.Status.AWAITING_STOCK)
    paid_order(customer, "20.00", "USD", now - 5 * DAY)
    paid_order(customer, "40.00", "USD", now - 20 * DAY)
    paid_order(customer, "80.00", "USD", now - 40 * DAY)  # outside every window
    paid_order(customer, "100.00", "CNY", now - 5 * DAY, status=Order.Status.REFUNDED)
    paid_order(customer, "300.00", "CNY", now - 20 * DAY)
    # Placed but never paid: not a sale.
    Order.objects.create(customer=customer, currency="USD", subtotal=5, total=5)

    assert figures(sales_paid_orders()) == {
        "CNY": {
            "today": (0, Decimal(0)),
            "week": (1, Decimal("100.00")),
            "month": (2, Decimal("400.00")),
        },
        "USD": {
            "today": (2, Decimal("12.50")),
            "week": (3, Decimal("32.50")),
            "month": (4, Decimal("72.50")),
        },
    }


def test_refunds_and_topups_per_window():
    now = timezone.now()
    customer = UserFactory()
    order = paid_order(customer, "50.00", "USD", now - 20 * DAY)
    Refund.objects.create(
        order=order,
        amount=Decimal("5.00"),
        currency="USD",
        status=Refund.Status.COMPLETED,
        completed_at=now,
    )
    Refund.objects.create(
        order=order,
        amount=Decimal("7.00"),
        currency="USD",
        status=Refund.Status.COMPLETED,
        completed_at=now - 10 * DAY,
    )
    # Waiting for a decision: no money went back yet.
    Refund.objects.create(order=order, amount=Decimal("9.00"), currency="USD")
    gateway_payment(customer, "30.00", status=Payment.Status.SUCCEEDED, settled_at=now - 2 * DAY)
    gateway_payment(
        customer, "60.00", currency="EUR", status=Payment.Status.SUCCEEDED, settled_at=now
    )
    gateway_payment(customer, "99.00", status=Payment.Status.FAILED, settled_at=now)

    assert figures(sales_refunds()) == {
        "USD": {
            "today": (1, Decimal("5.00")),
            "week": (1, Decimal("5.00")),
            "month": (2, Decimal("12.00")),
        }
    }
    assert figures(sales_wallet_topups()) == {
        "EUR": {
            "today": (1, Decimal("60.00")),
            "week": (1, Decimal("60.00")),
            "month": (1, Decimal("60.00")),
        },
        "USD": {
            "today": (0, Decimal(0)),
            "week": (1, Decimal("30.00")),
            "month": (1, Decimal("30.00")),
        },
    }


def test_windows_start_at_midnight_in_the_shops_time_zone():
    now = datetime.datetime(2026, 3, 10, 16, 0, tzinfo=datetime.UTC)  # 01:00 on the 11th in Tokyo
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    with timezone.override(tokyo):
        starts = sales_window_starts(now=now)
    assert starts == {
        "today": datetime.datetime(2026, 3, 11, tzinfo=tokyo),
        "week": datetime.datetime(2026, 3, 5, tzinfo=tokyo),
        "month": datetime.datetime(2026, 2, 10, tzinfo=tokyo),
    }


# --- Backlogs ------------------------------------------------------------------------------


def test_orders_awaiting_stock_oldest_first():
    now = timezone.now()
    customer = UserFactory()
    newer = paid_order(
        customer,
        "5.00",
        "USD",
        now,
        status=Order.Status.AWAITING_STOCK,
        awaiting_stock_since=now - datetime.timedelta(hours=1),
    )
    older = paid_order(
        customer,
        "5.00",
        "USD",
        now,
        status=Order.Status.AWAITING_STOCK,
        awaiting_stock_since=now - datetime.timedelta(hours=3),
    )
    paid_order(customer, "5.00", "USD", now)  # fulfilled

    backlog = orders_awaiting_stock(limit=1)
    assert backlog.count == 2
    assert backlog.oldest == [older]
    assert orders_awaiting_stock().oldest == [older, newer]


def test_plans_out_of_stock_and_low_first():
    plenty = PlanFactory(name="Plenty", low_stock_threshold=3)
    make_profiles(plenty, 5, start=1000)
    low = PlanFactory(name="Low", low_stock_threshold=3)
    make_profiles(low, 2, start=2000)
    at_threshold = PlanFactory(name="At threshold", low_stock_threshold=3)
    make_profiles(at_threshold, 3, start=3000)
    no_threshold = PlanFactory(name="No threshold")
    make_profiles(no_threshold, 1, start=4000)
    out = PlanFactory(name="Out", low_stock_threshold=3)
    PlanFactory(name="Retired", is_active=False)
    PlanFactory(name="Add-on", kind=Plan.Kind.TOPUP)

    stock = plans_stock()
    assert [(p.name, p.stock_available, p.stock_level) for p in stock.plans] == [
        ("Out", 0, STOCK_OUT),
        ("Low", 2, STOCK_LOW),
        ("No threshold", 1, STOCK_OK),
        ("At threshold", 3, STOCK_OK),
        ("Plenty", 5, STOCK_OK),
    ]
    assert (stock.out_count, stock.low_count) == (1, 1)
    assert out.pk == stock.plans[0].pk
    # Bounded: the emptiest first, the counts still over every plan.
    short = plans_stock(limit=2)
    assert [p.name for p in short.plans] == ["Out", "Low"]
    assert (short.out_count, short.low_count) == (1, 1)


def test_payments_open_longer_than_ten_minutes():
    now = timezone.now()
    customer = UserFactory()
    stuck = gateway_payment(customer, "10.00", created_at=now - datetime.timedelta(minutes=11))
    stuck_pending = gateway_payment(
        customer,
        "10.00",
        status=Payment.Status.PENDING,
        created_at=now - datetime.timedelta(minutes=30),
    )
    gateway_payment(customer, "10.00", created_at=now - datetime.timedelta(minutes=5))
    gateway_payment(
        customer,
        "10.00",
        status=Payment.Status.SUCCEEDED,
        created_at=now - datetime.timedelta(hours=1),
        settled_at=now,
    )

    backlog = payments_stuck()
    assert backlog.count == 2
    assert backlog.oldest == [stuck_pending, stuck]


def failed_renewal(finished_at: datetime.datetime, plan: Plan, number: int) -> Renewal:
    profile = make_profiles(plan, 1, start=number)[0]
    return Renewal.objects.create(
        key=f"renew:{profile.pk}:{number}",
        profile=profile,
        customer=UserFactory(),
        plan=plan,
        currency="USD",
        period_start=finished_at,
        next_attempt_at=finished_at,
        status=Renewal.Status.FAILED,
        last_error="Card declined",
        finished_at=finished_at,
    )


def test_failed_renewals_of_the_last_seven_days():
    now = timezone.now()
    plan = PlanFactory()
    recent = failed_renewal(now - DAY, plan, 7000)
    failed_renewal(now - 8 * DAY, plan, 7001)

    backlog = renewals_failed()
    assert backlog.count == 1
    assert backlog.oldest == [recent]


def support_request(subject: str, **fields) -> SupportRequest:
    return SupportRequest.objects.create(
        email="traveller@example.com",
        topic=SupportRequest.Topic.OTHER,
        subject=subject,
        message="Help",
        language="en",
        **fields,
    )


def test_open_support_requests():
    first = support_request("My eSIM does not connect")
    support_request("Answered already", status=SupportRequest.Status.ANSWERED)
    second = support_request("Where is my QR code")

    backlog = support_requests_open()
    assert backlog.count == 2
    assert backlog.oldest == [first, second]


# --- The page ------------------------------------------------------------------------------


def busy_shop() -> None:
    """One of everything the dashboard lists."""
    now = timezone.now()
    customer = UserFactory()
    paid_order(customer, "12.34", "USD", now)
    paid_order(
        customer,
        "5.00",
        "USD",
        now,
        status=Order.Status.AWAITING_STOCK,
        awaiting_stock_since=now - datetime.timedelta(hours=3),
    )
    low = PlanFactory(name="Thailand low", low_stock_threshold=10)
    make_profiles(low, 2, start=9000)
    gateway_payment(customer, "10.00", created_at=now - datetime.timedelta(minutes=11))
    gateway_payment(customer, "11.00", created_at=now - datetime.timedelta(minutes=5))
    gateway_payment(customer, "45.00", status=Payment.Status.SUCCEEDED, settled_at=now)
    failed_renewal(now - DAY, low, 9500)
    support_request("My eSIM does not connect")


def test_superuser_sees_every_section(client):
    busy_shop()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(INDEX)

    assert response.status_code == 200
    page = response.content.decode()
    dashboard = response.context["dashboard"]
    for section in ("sales", "awaiting_stock", "stock", "payments_stuck", "renewals_failed"):
        assert section in dashboard
    assert "17.34 USD" in page  # both paid orders today
    assert "45.00 USD" in page  # the top-up
    assert "Orders awaiting stock" in page and "waited 3" in page
    assert "Thailand low" in page and 'stock-low">Low</span>' in page
    assert "10.00 USD" in page and "11.00 USD" not in page
    assert "Card declined" in page
    assert "My eSIM does not connect" in page
    assert 'id="dashboard-finance"' in page
    assert "/admin/billing/ledgeraccount/" in page
    # The app list is still there.
    assert 'class="app-billing module' in page


def test_reseller_sees_only_what_he_may_view(client):
    busy_shop()
    reseller = staff_with("catalog.view_plan", "billing.view_order", "billing.change_order")
    client.force_login(reseller)

    response = client.get(INDEX)

    assert response.status_code == 200
    page = response.content.decode()
    assert set(response.context["dashboard"]) == {"sales", "awaiting_stock", "stock"}
    assert "17.34 USD" in page
    assert "Thailand low" in page
    assert "Wallet top-ups" not in page and "45.00 USD" not in page
    assert 'id="dashboard-payments"' not in page
    assert 'id="dashboard-finance"' not in page
    assert "Card declined" not in page
    assert "My eSIM does not connect" not in page


def test_finance_box_for_ledger_readers(client):
    client.force_login(staff_with("billing.view_ledgeraccount"))

    page = client.get(INDEX).content.decode()

    assert 'id="dashboard-finance"' in page
    assert "/admin/billing/ledgeraccount/" in page
    assert "/admin/billing/journalentry/" not in page
    assert 'id="dashboard-sales"' not in page


@pytest.mark.parametrize("is_staff", [False, None])
def test_non_staff_are_sent_to_sign_in(client, is_staff):
    if is_staff is not None:
        client.force_login(UserFactory(is_staff=is_staff))

    response = client.get(INDEX)

    assert response.status_code == 302
    assert "login" in response["Location"]


def make_plans_and_orders(count: int, start: int) -> None:
    now = timezone.now()
    customer = UserFactory()
    for n in range(count):
        plan = PlanFactory(low_stock_threshold=5)
        make_profiles(plan, n % 7, start=start + n * 10)
        paid_order(
            customer,
            "1.00",
            ("USD", "EUR", "CNY")[n % 3],
            now - n % 40 * DAY,
            **(
                {"status": Order.Status.AWAITING_STOCK, "awaiting_stock_since": now}
                if n % 5 == 0
                else {}
            ),
        )
    for n in range(min(count, 20)):
        gateway_payment(customer, "3.00", created_at=now - datetime.timedelta(minutes=20 + n))
        support_request(f"Question {start + n}")


def index_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(INDEX)
    assert response.status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_plans_or_orders(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    make_plans_and_orders(10, start=100_000)
    few = index_queries(client)

    make_plans_and_orders(190, start=200_000)
    many = index_queries(client)

    assert few == many
    assert few < 30


def test_the_admin_site_is_the_staff_consoles():
    from django.contrib import admin

    from config.admin import SimdeskAdminSite

    assert isinstance(admin.site, SimdeskAdminSite)
    # Every model registered through @admin.register lands on it.
    assert Order in admin.site._registry and Plan in admin.site._registry
    assert str(admin.site.site_header) == "Simdesk staff console"
