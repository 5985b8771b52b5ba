"""Every storefront page makes as many queries with 1,000 plans and 1,000 profiles as with 10.

The page cache is off in the test settings, so every page is rendered. Each page is rendered
once to warm up and once counted, with a small catalog; then the catalog grows (plans in many
countries, a few regions, more plans of the pages' own country and region, add-ons fitting the
customer's plan, profiles, devices) and each page is counted again.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone
from djmoney.money import Money

from accounts.models import User
from billing.gateways import PaymentUpdate
from billing.models import Order, Payment
from billing.services.payments import payment_update_apply
from catalog.models import Bundle, Device, EsimProfile, Plan, PlanPrice, Region
from catalog.services import card_bind
from catalog.services.bundles import bundle_start
from tests.billing.order_support import addon_for, bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import iccid

pytestmark = pytest.mark.django_db

GROWN_PLANS = 1_000
GROWN_PROFILES = 1_000
# Countries with plans once the catalog has grown: all distinct two-letter codes.
GROWN_COUNTRIES = [
    "US", "GB", "FR", "DE", "IT", "ES", "NL", "BE", "AT", "CH", "PT", "GR", "SE", "NO", "DK",
    "FI", "IE", "PL", "CZ", "HU", "RO", "BG", "HR", "TR", "AE", "SA", "QA", "IL", "EG", "MA",
    "ZA", "KE", "NG", "IN", "PK", "BD", "LK", "NP", "TH", "VN", "MY", "SG", "ID", "PH", "KR",
    "CN", "HK", "MO", "TW", "AU", "NZ", "CA", "MX", "BR", "AR", "CL", "CO", "PE", "UY", "IS",
]  # fmt: skip
ICCID_START = 900_000_000  # far from the numbers the order helpers use


@dataclass
class Shop:
    """What the pages are about: the customer and their things, and the catalog's pages."""

    customer: User
    plan: Plan  # Japan, bought by the customer
    region: Region
    order: Order
    profile: EsimProfile  # the customer's eSIM, its bundle running
    topup: Payment  # a paid wallet top-up
    support_request_id: uuid.UUID


# URL name (and what differs, if a page is counted twice) -> its URL for this shop. The PUBLIC
# pages are counted for a visitor and for the signed-in customer, PRIVATE ones for the customer.
Page = Callable[[Shop], str]
PUBLIC: dict[str, Page] = {
    "storefront:home": lambda s: reverse("storefront:home"),
    "storefront:search": lambda s: reverse("storefront:search") + "?q=ja",  # one match: 302
    "storefront:search (several matches)": lambda s: reverse("storefront:search") + "?q=an",
    "storefront:search-suggest": lambda s: reverse("storefront:search-suggest") + "?q=ja",
    "storefront:destinations": lambda s: reverse("storefront:destinations"),
    "storefront:country": lambda s: reverse("storefront:country", args=["jp"]),
    "storefront:region": lambda s: reverse("storefront:region", args=[s.region.code]),
    "storefront:plan-detail": lambda s: reverse("storefront:plan-detail", args=[s.plan.code]),
    "storefront:help": lambda s: reverse("storefront:help"),
    "storefront:devices": lambda s: reverse("storefront:devices") + "?q=iphone",
    "storefront:contact": lambda s: reverse("storefront:contact"),
    "storefront:card-topup": lambda s: reverse("storefront:card-topup"),
}
PRIVATE: dict[str, Page] = {
    "storefront:checkout": lambda s: reverse("storefront:checkout", args=[s.plan.code]),
    "storefront:orders": lambda s: reverse("storefront:orders"),
    "storefront:order-detail": lambda s: _order_url("storefront:order-detail", s),
    "storefront:order-status": lambda s: _order_url("storefront:order-status", s),
    "storefront:order-receipt": lambda s: _order_url("storefront:order-receipt", s),
    "storefront:esims": lambda s: reverse("storefront:esims"),
    "storefront:esim-detail": lambda s: _esim_url("storefront:esim-detail", s),
    "storefront:esim-renew": lambda s: _esim_url("storefront:esim-renew", s),
    "storefront:esim-change": lambda s: _esim_url("storefront:esim-change", s),
    "storefront:wallet": lambda s: reverse("storefront:wallet"),
    "storefront:topup": lambda s: reverse("storefront:topup"),
    "storefront:topup-history": lambda s: reverse("storefront:topup-history"),
    "storefront:topup-detail": lambda s: _topup_url("storefront:topup-detail", s),
    "storefront:topup-status": lambda s: _topup_url("storefront:topup-status", s),
    "storefront:topup-receipt": lambda s: _topup_url("storefront:topup-receipt", s),
    "storefront:cards": lambda s: reverse("storefront:cards"),
    "storefront:support-requests": lambda s: reverse("storefront:support-requests"),
    "storefront:support-request": lambda s: reverse(
        "storefront:support-request", args=[s.support_request_id]
    ),
    "accounts:settings": lambda s: reverse("accounts:settings"),
}


def _order_url(name: str, shop: Shop) -> str:
    return reverse(name, args=[shop.order.public_id])


def _esim_url(name: str, shop: Shop) -> str:
    return reverse(name, args=[shop.profile.iccid])


def _topup_url(name: str, shop: Shop) -> str:
    return reverse(name, args=[shop.topup.public_id])


def _storefront_get_pages() -> set[str]:
    """Every storefront URL name whose view answers GET."""
    names = set()
    for pattern in get_resolver().url_patterns:
        if getattr(pattern, "namespace", None) != "storefront":
            continue
        for entry in pattern.url_patterns:
            assert isinstance(entry, URLPattern)
            view_class = getattr(entry.callback, "view_class", None)
            answers_get = (
                view_class is not None
                and hasattr(view_class, "get")
                and "get" in view_class.http_method_names
            )
            if answers_get or (view_class is None and entry.callback is not None):
                names.add(f"storefront:{entry.name}")
    return names


def test_every_storefront_page_is_counted():
    counted = {label.split(" ")[0] for label in [*PUBLIC, *PRIVATE]}
    missing = _storefront_get_pages() - counted

    assert not missing, f"add these pages to PUBLIC or PRIVATE: {sorted(missing)}"


def _small_shop(django_capture_on_commit_callbacks) -> Shop:
    """10 plans: 4 in Japan (one an add-on), 3 in a region, 3 elsewhere."""
    with django_capture_on_commit_callbacks(execute=True):
        plan = plan_for_sale(price="9.00", stock=3, code="jp-5gb", name="Japan 5 GB")
        addon_for(plan, price="2.00")
        plan_for_sale(price="5.00", stock=1, code="jp-1gb", name="Japan 1 GB", data_mb=1024)
        plan_for_sale(
            price="25.00", stock=1, code="jp-unl", name="Japan unlimited",
            kind=Plan.Kind.UNLIMITED, data_mb=None, daily_cap_mb=2048, network=Plan.Network.NR,
        )  # fmt: skip
        region = Region.objects.create(
            code="asia", name="Asia", name_zh_hans="亚洲", countries=["JP", "KR", "TH"]
        )
        for n, data_mb in enumerate([1024, 3072, 10240]):
            plan_for_sale(
                price=f"{6 + n}.00", stock=1, code=f"asia-{n}", name=f"Asia {n}",
                country="", region=region, data_mb=data_mb,
            )  # fmt: skip
        plan_for_sale(price="8.00", stock=1, code="kr-3gb", name="Korea 3 GB", country="KR")
        plan_for_sale(price="8.00", stock=1, code="fr-3gb", name="France 3 GB", country="FR")
        plan_for_sale(price="7.00", stock=0, code="th-3gb", name="Thailand 3 GB", country="TH")
        assert Plan.objects.count() == 10

        customer = funded_customer("500.00", full_name="Mei Traveller")
        order, profile = bought_esim(customer, plan)
        bundle = profile.bundles.get()
        if bundle.status == Bundle.Status.QUEUED:
            bundle_start(bundle, timezone.now())
        card_bind(customer=customer, iccid=profile.iccid, label="Japan trip")
        topup = _paid_topup(customer)
        support_request_id = _support_request(customer, order)
    return Shop(customer, plan, region, order, profile, topup, support_request_id)


def _paid_topup(customer: User) -> Payment:
    client = Client()
    client.force_login(customer)
    response = client.post(
        reverse("storefront:topup"),
        {
            "currency": "USD",
            "preset": "other",
            "custom_amount": "50",
            "method": "sandbox",
            "request_token": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302, response.content.decode()
    payment = Payment.objects.get(customer=customer, purpose=Payment.Purpose.WALLET_TOPUP)
    return payment_update_apply(
        payment=payment, update=PaymentUpdate(status="succeeded", amount=payment.amount_money)
    )


def _support_request(customer: User, order: Order) -> uuid.UUID:
    from billing.services.support import support_request_create

    request = support_request_create(
        customer=customer,
        email=customer.email,
        name=customer.full_name,
        topic="installing",
        subject="The QR code",
        message="My phone does not read the QR code.",
        order=order,
        language="en",
    )
    return request.public_id


def _grow(shop: Shop) -> None:
    """To GROWN_PLANS plans and GROWN_PROFILES more profiles, in many countries and regions."""
    cost = Money(Decimal("3.00"), "USD")
    regions = Region.objects.bulk_create(
        Region(code=f"region-{n}", name=f"Region {n}", countries=GROWN_COUNTRIES[n::5])
        for n in range(5)
    )
    plans: list[Plan] = []

    def add(code: str, **fields: object) -> None:
        fields.setdefault("validity_days", 30)
        plans.append(Plan(code=code, name=code.title(), wholesale_cost=cost, **fields))

    for n in range(40):  # more of the pages' own country and region
        add(f"jp-more-{n}", country="JP", data_mb=1024 * (n % 20 + 1))
        add(f"asia-more-{n}", region=shop.region, data_mb=1024 * (n % 20 + 1))
    for n in range(10):  # more add-ons that fit the customer's plan
        add(f"jp-addon-{n}", country="JP", data_mb=1024, kind=Plan.Kind.TOPUP)
    for region in regions:
        for days in range(1, 11):
            add(f"{region.code}-{days}d", region=region, data_mb=1024 * days, network="5g")
    total = Plan.objects.count() + len(plans)
    for n in range(GROWN_PLANS - total):
        country = GROWN_COUNTRIES[n % len(GROWN_COUNTRIES)]
        unlimited = n % 7 == 0
        add(
            f"{country.lower()}-{n}",
            country=country,
            kind=Plan.Kind.UNLIMITED if unlimited else Plan.Kind.DATA,
            data_mb=None if unlimited else 1024 * (n % 10 + 1),
            daily_cap_mb=2048 if unlimited else None,
            validity_days=n % 30 + 1,
            network="5g" if n % 2 else "4g",
            hotspot=n % 3 != 0,
        )
    plans = Plan.objects.bulk_create(plans)
    PlanPrice.objects.bulk_create(
        PlanPrice(plan=plan, price=Money(Decimal(5 + n % 40), "USD"))
        for n, plan in enumerate(plans)
    )
    Plan.fits.through.objects.bulk_create(
        Plan.fits.through(from_plan_id=plan.pk, to_plan_id=shop.plan.pk)
        for plan in plans
        if plan.kind == Plan.Kind.TOPUP
    )
    sellable = [plan for plan in plans if plan.kind != Plan.Kind.TOPUP]
    EsimProfile.objects.bulk_create(
        EsimProfile(
            iccid=iccid(ICCID_START + n),
            smdp_address="smdp.test.simdesk.test",
            matching_id=f"GROWN-{n:06d}",
            plan=sellable[n % len(sellable)],
            wholesale_cost=cost,
        )
        for n in range(GROWN_PROFILES)
    )
    Device.objects.bulk_create(
        Device(brand="Apple", model=f"iPhone Test {n}", support=Device.Support.YES)
        for n in range(100)
    )
    assert Plan.objects.count() == GROWN_PLANS


def _counts(shop: Shop, signed_in: bool) -> dict[str, tuple[int, int]]:
    """(status, queries) per page, counted on its second rendering."""
    client = Client()
    pages = dict(PUBLIC)
    if signed_in:
        client.force_login(shop.customer)
        pages |= PRIVATE
    counts = {}
    for name, url_of in pages.items():
        url = url_of(shop)
        first = client.get(url)
        assert first.status_code in (200, 302), f"{name} {url}: {first.status_code}"
        with CaptureQueriesContext(connection) as queries:
            status = client.get(url).status_code
        counts[name] = (status, len(queries))
    return counts


@pytest.mark.parametrize("signed_in", [False, True], ids=["visitor", "customer"])
def test_no_page_makes_more_queries_with_a_bigger_catalog(
    signed_in, django_capture_on_commit_callbacks, settings
):
    settings.SIMDESK_PAGE_CACHE_SECONDS = 0  # every page rendered (as in the test settings)
    shop = _small_shop(django_capture_on_commit_callbacks)
    small = _counts(shop, signed_in)
    _grow(shop)
    grown = _counts(shop, signed_in)

    grew = {
        name: f"{small[name][1]} -> {grown[name][1]} queries (status {small[name][0]} -> "
        f"{grown[name][0]})"
        for name in small
        if grown[name] != small[name]
    }
    print({name: small[name] for name in small})  # (status, queries) per page, for the record
    assert not grew, f"pages whose queries grew with the catalog: {grew}"
