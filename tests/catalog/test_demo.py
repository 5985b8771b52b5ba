import dataclasses
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Q

from accounts.demo import DEMO_LOGINS
from catalog import demo
from catalog.models import Device, EsimProfile, Plan, PlanPrice, Region
from catalog.services import plans_low_stock_check
from catalog.validation import build_activation_code, check_iccid, parse_activation_code

pytestmark = pytest.mark.django_db

MATCHING_ID = re.compile(r"DEMO-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}")


@pytest.fixture
def summary():
    return demo.demo_catalog_seed()


def _snapshot():
    """Every demo row, as plain values, to compare two runs."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Region, Plan, PlanPrice, EsimProfile, Device)
    } | {"fits": list(Plan.fits.through.objects.order_by("pk").values())}


def test_destinations(summary):
    assert Region.objects.count() == summary.regions == 5
    europe = Region.objects.get(code="europe-33")
    assert len(europe.countries) == 33
    assert europe.name_zh_hans == "欧洲33国"
    assert len(Region.objects.get(code="asia-12").countries) == 12
    assert {c.code for c in Region.objects.get(code="north-america").countries} == {
        "US",
        "CA",
        "MX",
    }
    countries = set(Plan.objects.exclude(country="").values_list("country", flat=True))
    assert len(countries) == summary.countries == 30
    assert {"JP", "KR", "TH", "US", "GB", "HK", "CN"} <= countries


def test_plans_of_every_kind(summary):
    assert Plan.objects.count() == summary.plans == 60
    kinds = dict(Plan.objects.values_list("kind").annotate(n=Count("pk")))
    assert set(kinds) == set(Plan.Kind.values)
    assert {Plan.Network.LTE, Plan.Network.NR} == set(
        Plan.objects.values_list("network", flat=True)
    )
    assert set(Plan.objects.values_list("activation_policy", flat=True)) == set(
        Plan.ActivationPolicy.values
    )
    for plan in Plan.objects.all():
        assert plan.name and plan.name_zh_hans
        assert re.fullmatch(r"[a-z0-9-]+", plan.code)
        assert (plan.data_mb is None) == (plan.kind == Plan.Kind.UNLIMITED)
        assert (plan.daily_cap_mb is not None) == (plan.kind == Plan.Kind.UNLIMITED)
    japan = Plan.objects.get(code="jp-5gb-30d")
    assert (japan.name, japan.name_zh_hans) == ("Japan 5 GB · 30 days", "日本 5GB · 30天")
    assert (japan.data_mb, japan.validity_days) == (5 * 1024, 30)
    for keeper in Plan.objects.filter(kind=Plan.Kind.NUMBER_KEEPING):
        assert keeper.validity_days == 365 and keeper.renewable


def test_every_plan_priced_in_every_currency(summary):
    currencies = set(settings.SIMDESK_CURRENCIES)
    assert set(summary.currencies) == currencies
    assert summary.unpriced_currencies == ()
    assert PlanPrice.objects.count() == 60 * len(currencies)
    for plan in Plan.objects.prefetch_related("prices"):
        assert {p.price.currency.code for p in plan.prices.all()} == currencies
    price = {
        p.price.currency.code: p.price.amount
        for p in PlanPrice.objects.filter(plan__code="jp-5gb-30d")
    }
    assert price["USD"] == Decimal("12.99")
    assert price["CNY"] == Decimal("94.00")  # 12.99 x 7.2, whole yuan
    assert price["HKD"] == Decimal("101.00")
    assert price["EUR"] == Decimal("11.99")  # 12.99 x 0.92 = 11.95, a .99 ending


def test_retail_rounding():
    assert demo.retail_price(Decimal("4.99"), "EUR") == Decimal("4.99")
    assert demo.retail_price(Decimal("0.99"), "EUR") == Decimal("0.99")
    assert demo.retail_price(Decimal("4.99"), "CNY") == Decimal("36.00")
    assert demo.retail_price(Decimal("4.99"), "JPY") == Decimal("750.00")


def test_addons_fit_base_plans_with_the_same_coverage(summary):
    addons = Plan.objects.filter(kind=Plan.Kind.TOPUP).prefetch_related("fits")
    assert addons.count() == 6
    assert {a.data_mb for a in addons} == {1024, 3072}
    for addon in addons:
        fits = list(addon.fits.all())
        assert fits, addon.code
        for base in fits:
            assert base.kind in (Plan.Kind.DATA, Plan.Kind.NUMBER_KEEPING)
            assert (base.country, base.region_id) == (addon.country, addon.region_id)
    assert set(Plan.objects.get(code="cn-topup-1gb").fits.values_list("code", flat=True)) == {
        "cn-5gb-30d",
        "cn-number-365d",
    }


def test_profiles(summary):
    profiles = list(EsimProfile.objects.select_related("plan"))
    assert len(profiles) == summary.profiles == demo.TOTAL_PROFILES == 2_000
    assert len({p.iccid for p in profiles}) == len(profiles)
    assert not EsimProfile.objects.filter(plan__kind=Plan.Kind.TOPUP).exists()
    stocked = Plan.objects.exclude(kind=Plan.Kind.TOPUP).filter(profiles__isnull=False)
    assert stocked.distinct().count() == 54  # every base plan has stock
    for profile in profiles:
        check = check_iccid(profile.iccid)
        assert check.luhn_ok, profile.iccid
        assert len(profile.iccid) == (20 if profile.plan.country == "CN" else 19)
        assert profile.iccid.startswith("89860" if profile.plan.country == "CN" else "8999")
        code = parse_activation_code(profile.activation_code)
        assert code.smdp_address == "smdp.demo.simdesk.test"
        assert MATCHING_ID.fullmatch(code.matching_id)
        assert code.confirmation_code_required == bool(profile.confirmation_code)
        assert profile.wholesale_cost == profile.plan.wholesale_cost
        assert profile.status == EsimProfile.Status.AVAILABLE and profile.owner_id is None
    sample = profiles[0]
    assert build_activation_code(sample.smdp_address, sample.matching_id) == (
        parse_activation_code(sample.activation_code)
    )


def test_some_plans_start_low_on_stock(summary):
    low = Plan.objects.annotate(
        available=Count("profiles", filter=Q(profiles__status=EsimProfile.Status.AVAILABLE))
    ).filter(is_active=True, low_stock_threshold__gt=0)
    below = {p.code for p in low if p.available < p.low_stock_threshold}
    assert below == set(summary.low_stock_plans)
    assert 1 <= len(below) <= 2
    with transaction.atomic():
        alerted = plans_low_stock_check()
    assert set(Plan.objects.filter(pk__in=alerted).values_list("code", flat=True)) == below


def test_devices(summary):
    assert Device.objects.count() == summary.devices
    assert summary.devices >= 140  # catalog/data/devices.csv
    assert set(Device.objects.values_list("support", flat=True)) == set(Device.Support.values)
    assert Device.objects.get(brand="Apple", model="iPhone XS").support == Device.Support.YES
    assert Device.objects.get(brand="Apple", model="iPhone 8").support == Device.Support.NO
    iphone_13 = Device.objects.get(brand="Apple", model="iPhone 13")
    assert iphone_13.support == Device.Support.VARIES
    assert "mainland China" in iphone_13.notes


def test_second_run_changes_nothing(summary):
    assert summary.created > 2_000
    before = _snapshot()
    again = demo.demo_catalog_seed()
    assert again.created == 0
    assert again == dataclasses.replace(summary, created=0)
    assert _snapshot() == before


def test_second_run_keeps_staff_edits(summary):
    plan = Plan.objects.get(code="jp-5gb-30d")
    plan.name = "Japan 5 GB (spring offer)"
    plan.save()
    PlanPrice.objects.filter(plan=plan, price_currency="EUR").delete()
    assert demo.demo_catalog_seed().created == 1  # only the EUR price comes back
    assert Plan.objects.get(code="jp-5gb-30d").name == "Japan 5 GB (spring offer)"


def test_currency_without_a_demo_rate_is_reported(settings):
    settings.SIMDESK_CURRENCIES = ["USD", "CHF"]
    summary = demo.demo_catalog_seed()
    assert summary.currencies == ("USD",)
    assert summary.unpriced_currencies == ("CHF",)
    assert set(PlanPrice.objects.values_list("price_currency", flat=True)) == {"USD"}


def test_seed_demo_command_prints_logins_and_catalog():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    for login in DEMO_LOGINS:
        assert login.email in text
    assert (
        "Demo catalog: 30 countries and 5 regions, 60 plans priced in "
        + ", ".join(settings.SIMDESK_CURRENCIES)
        + ", 2,000 eSIM profiles"
    ) in text
    assert Plan.objects.count() == 60 and EsimProfile.objects.count() == 2_000

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "(0 rows added)" in out.getvalue()
    assert Plan.objects.count() == 60 and EsimProfile.objects.count() == 2_000
