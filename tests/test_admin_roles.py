"""Every URL of the staff console, walked as each role: what each may open and what is refused.

The table below is the roles' contract, written by hand: R reseller staff, F finance, S a
superuser. A URL missing from it fails the test, so a new admin page must say who may open it.
A customer (not staff) is sent to the sign-in page from every one of them.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from djmoney.money import Money

from accounts.roles import FINANCE, RESELLER_STAFF
from billing.models import BonusTier, Coupon, GatewayEvent, Payment, SandboxCharge
from billing.services.payouts import payout_record
from billing.services.reconciliation import reconciliation_run
from billing.services.refunds import refund_request
from billing.services.support import support_request_create
from catalog.models import CardBinding, ImportBatch, UsageRecord
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.billing.payment_support import payment_make
from tests.billing.renewal_support import auto_on
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Who may open each admin URL (by its name): R reseller staff, F finance, S superuser.
# Read-only models refuse "add" and "delete" to everyone, superusers included.
ALL = "RFS"
EVERYONE_STAFF = {
    "index": ALL,
    "password_change": ALL,
    "password_change_done": ALL,
    "jsi18n": ALL,
}
CRUD = ("changelist", "add", "change", "delete", "history")


def model_urls(prefix: str, **roles: str) -> dict[str, str]:
    """{name: roles} for a model's five standard pages; `roles` per page, else `view`."""
    view = roles.pop("view", "S")
    return {f"{prefix}_{page}": roles.get(page, view) for page in CRUD}


EXPECTED: dict[str, str] = {
    **EVERYONE_STAFF,
    # Django's and allauth's own models: superusers only; staff look customers up.
    **model_urls("auth_group"),
    **model_urls("account_emailaddress"),
    **model_urls("mfa_authenticator"),
    **model_urls("django_celery_beat_periodictask"),
    **model_urls("django_celery_beat_clockedschedule"),
    **model_urls("django_celery_beat_crontabschedule"),
    **model_urls("django_celery_beat_solarschedule"),
    **model_urls("django_celery_beat_intervalschedule"),
    **model_urls("accounts_user", view=ALL, add="S", delete="S"),
    "auth_user_password_change": "S",
    # Catalog and inventory: reseller staff run them; finance reads plans, stock, imports.
    **model_urls("catalog_region", view=ALL, add="RS", delete="RS"),
    **model_urls("catalog_plan", view=ALL, add="RS", delete="RS"),
    # An old version of a plan, profile, coupon or bonus tier (django-simple-history).
    "catalog_plan_simple_history": ALL,
    "catalog_esimprofile_simple_history": ALL,
    "billing_coupon_simple_history": ALL,
    "billing_bonustier_simple_history": ALL,
    **model_urls("catalog_importbatch", view=ALL, add="", delete="S"),
    **model_urls("catalog_esimprofile", view=ALL, add="RS", delete="S"),
    "catalog_esimprofile_import": "RS",
    **model_urls("catalog_bundle", view="RS", add="", delete="S"),
    **model_urls("catalog_usagerecord", view="RS", add="", delete=""),
    "catalog_usagerecord_import": "RS",
    **model_urls("catalog_device", view="RS", add="RS", delete="RS"),
    **model_urls("catalog_cardbinding", view="RS", add="", delete=""),
    # The ledger: finance reads it and adjusts wallets; reseller staff never see it.
    **model_urls("billing_ledgeraccount", view="FS", add="", delete=""),
    "billing_ledgeraccount_statement": "FS",
    "billing_ledgeraccount_adjust": "FS",
    "billing_ledgeraccount_open_wallet": "FS",
    # Reports and exports are finance's.
    "billing_reports": "FS",
    "billing_report_trial_balance": "FS",
    "billing_report_balance_sheet": "FS",
    "billing_report_income": "FS",
    "billing_report_journal": "FS",
    "billing_report_wallets": "FS",
    # Reconciling the gateway and recording its payouts are finance's; runs are read-only.
    **model_urls("billing_reconciliationrun", view="FS", add="", delete=""),
    "billing_reconciliationrun_run": "FS",
    "billing_reconciliationrun_ask_gateway": "FS",
    "billing_reconciliationrun_book_refund": "FS",
    **model_urls("billing_gatewaypayout", view="FS", add="", delete=""),
    "billing_gatewaypayout_record": "FS",
    **model_urls("billing_journalentry", view="FS", add="", delete=""),
    **model_urls("billing_posting", view="FS", add="", delete=""),
    # Coupons are the reseller's; finance reads them.
    **model_urls("billing_coupon", view=ALL, add="RS", delete="RS"),
    # Orders: both read; reseller staff fulfil; refunds are finance's decision.
    **model_urls("billing_order", view=ALL, add="", delete=""),
    "billing_order_refund": "FS",
    **model_urls("billing_refund", view=ALL, add="", delete=""),
    "billing_refund_queue": ALL,
    "billing_refund_approve": "FS",
    "billing_refund_reject": "FS",
    # Payments: both read and take money at the counter; events are finance's.
    **model_urls("billing_payment", view=ALL, add="", delete=""),
    "billing_payment_counter": ALL,
    **model_urls("billing_gatewayevent", view="FS", add="", delete=""),
    **model_urls("billing_bonustier", view=ALL, add="RS", delete="RS"),
    **model_urls("billing_sandboxcharge", view="S", add="", delete=""),
    # Renewals are read by both; support requests are answered by both.
    **model_urls("billing_autorenewal", view=ALL, add="", delete=""),
    **model_urls("billing_renewal", view=ALL, add="", delete=""),
    **model_urls("billing_reminder", view=ALL, add="", delete=""),
    **model_urls("billing_supportrequest", view=ALL, add="", delete=""),
}
# Per app, whose index page lists something.
APP_LISTS = {
    "auth": "S",
    "account": "S",
    "mfa": "S",
    "django_celery_beat": "S",
    "accounts": ALL,
    "catalog": ALL,
    "billing": ALL,
}
# Not pages: the sign-in/out redirects, the autocomplete endpoint (tested with its forms),
# the "view on site" redirect, and the unnamed "<id>/" redirects to the change page.
SKIPPED = {"login", "logout", "autocomplete", "view_on_site", "app_list", None}


def walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def admin_names() -> list[str]:
    return sorted({name for _, name in walk(admin.site.get_urls()) if name not in SKIPPED})


# --- A shop with a row behind every page ---------------------------------------------------
def seed_shop() -> dict[str, models.Model]:
    """One of everything the console shows, made through the services where they exist."""
    plan = plan_for_sale(stock=3)
    customer = funded_customer("100.00")
    order, profile = bought_esim(customer, plan)
    refund = refund_request(customer=customer, profile=profile, reason="Trip cancelled")
    auto_on(customer, profile)
    payment = payment_make(customer, status=Payment.Status.PENDING)
    support_request_create(
        customer=customer,
        email=customer.email,
        name="",
        topic="other",
        subject="Where is my eSIM?",
        message="It has not arrived.",
        order=order,
        payment=None,
        language="en",
    )
    GatewayEvent.objects.create(
        gateway="sandbox", event_id="evt_roles", type="charge.succeeded", payload={}
    )
    SandboxCharge.objects.create(
        charge_id="sbx_ch_roles",
        reference=str(payment.public_id),
        amount=Decimal("100.00"),
        currency="USD",
        description="Roles",
        settles_at=timezone.now() + timedelta(minutes=5),
    )
    CardBinding.objects.create(customer=customer, profile=profile, label="Travel")
    today = timezone.localdate()
    reconciliation_run(gateway="sandbox", start=today, end=today, run_by=None)
    payout_record(
        gateway="sandbox",
        reference="po_roles",
        currency="USD",
        paid_on=today,
        amount_to_bank=Money("1.00", "USD"),
        fees=Money("0.00", "USD"),
        recorded_by=UserFactory(),
        note="",
    )
    profile.save()  # an old version to open (bulk imports write none)
    Coupon.objects.create(code="ROLES", kind="percent", percent=5)
    BonusTier.objects.create(name="Roles", currency="USD", min_amount=50, percent=5)
    bundle = profile.bundles.get()
    UsageRecord.objects.create(
        profile=profile, bundle=bundle, recorded_at=timezone.now(), bytes_used=1, source="api"
    )
    ImportBatch.objects.create(file_name="stock.csv", imported_by=UserFactory(), rows=0)
    Authenticator.objects.create(user=customer, type=Authenticator.Type.RECOVERY_CODES, data={})
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    CrontabSchedule.objects.create(minute="30", hour="2")
    SolarSchedule.objects.create(event="sunrise", latitude=22.3, longitude=114.2)
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    PeriodicTask.objects.create(name="roles", task="simdesk.heartbeat", interval=every_minute)
    return {"billing.refund": refund, "billing.order": order, "catalog.esimprofile": profile}


def object_for(app_model: str, seeded: dict[str, models.Model]) -> str:
    """The primary key a URL of `app_model` ("billing.order") is walked with."""
    if app_model in seeded:
        return str(seeded[app_model].pk)
    model = admin_model(app_model)
    if app_model == "billing.ledgeraccount":  # a wallet, so "adjust" has something to adjust
        row = model._default_manager.filter(owner__isnull=False).order_by("pk").first()
    else:
        row = model._default_manager.order_by("pk").first()
    return str(row.pk) if row is not None else "0"


def admin_model(app_model: str) -> type[models.Model]:
    for model in admin.site._registry:
        if model._meta.label_lower == app_model:
            return model
    raise LookupError(app_model)


def url_for(name: str, seeded: dict[str, models.Model]) -> str:
    route = next(route for route, route_name in walk(admin.site.get_urls()) if route_name == name)
    if not any(part in route for part in ("<path:object_id>", "<id>", "([^/]+)")):
        return reverse(f"admin:{name}")
    if name == "auth_user_password_change":
        return reverse(f"admin:{name}", args=[object_for("accounts.user", seeded)])
    app_model = next(
        model._meta.label_lower
        for model in admin.site._registry
        if name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_")
    )
    object_id = object_for(app_model, seeded)
    if name.endswith("_simple_history"):
        version = admin_model(app_model).history.filter(id=object_id).latest("history_id")
        return reverse(f"admin:{name}", args=[object_id, version.history_id])
    return reverse(f"admin:{name}", args=[object_id])


@pytest.fixture
def roles() -> dict[str, object]:
    def member(role: str) -> object:
        user = UserFactory(is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        return user

    return {
        "R": member(RESELLER_STAFF),
        "F": member(FINANCE),
        "S": UserFactory(is_staff=True, is_superuser=True),
    }


def test_every_admin_url_is_in_the_roles_table():
    names = admin_names()
    assert [name for name in names if name not in EXPECTED] == []
    assert [name for name in EXPECTED if name not in names] == []


def test_each_role_opens_what_it_may_and_is_refused_the_rest(client, roles):
    seeded = seed_shop()
    wrong = []
    for letter, user in roles.items():
        client.force_login(user)
        for name in admin_names():
            url = url_for(name, seeded)
            status = client.get(url).status_code
            allowed = letter in EXPECTED[name]
            # An allowed page whose object does not exist redirects to the index.
            ok = status in (200, 302) if allowed else status == 403
            if not ok:
                wrong.append(f"{letter} {url} {status} (expected {'200' if allowed else '403'})")
        for app_label, letters in APP_LISTS.items():
            url = reverse("admin:app_list", args=[app_label])
            status = client.get(url).status_code
            if status != (200 if letter in letters else 404):
                wrong.append(f"{letter} {url} {status}")
    assert not wrong, "\n".join(wrong)


def test_a_customer_is_sent_to_sign_in_from_every_page(client):
    seeded = seed_shop()
    client.force_login(UserFactory())
    wrong = []
    for name in admin_names():
        url = url_for(name, seeded)
        response = client.get(url)
        if response.status_code != 302 or "/admin/login/" not in response["Location"]:
            wrong.append(f"{url} {response.status_code}")
    assert not wrong, "\n".join(wrong)
