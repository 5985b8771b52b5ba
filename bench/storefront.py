"""Figures `country_page` and `plan_page`: the storefront's catalog pages on a realistic catalog.

The setup seeds what a live shop sells: COUNTRIES countries (Japan among them) with
PLANS_PER_COUNTRY plans each (data and unlimited plans, 4G and 5G, 1 to 30 days, and one add-on
fitting the country's plans), a few regions with plans of their own, every plan priced in USD
and CNY, and PROFILES available eSIM profiles spread over the plans: about 1,000 plans in all.
Everything is bulk-inserted (no signals: the database is fresh every run).

The figures GET the Japan country page and one Japan plan's page through gunicorn as an
anonymous visitor with no cookies, as search engines and first-time visitors do; both pages go
through the storefront's page cache (storefront/cache.py), so after the warm-up they measure
cache hits.
"""

from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # bench.figures imports this module
    from bench.figures import BenchContext

COUNTRIES = 100
PLANS_PER_COUNTRY = 10  # 9 eSIM plans and 1 add-on
REGIONS = {
    "europe": ("Europe", "欧洲", ["FR", "DE", "IT", "ES", "NL", "BE", "AT", "CH", "PT", "GR"]),
    "asia": ("Asia", "亚洲", ["JP", "KR", "TH", "SG", "MY", "VN", "ID", "PH", "HK", "TW"]),
    "americas": ("Americas", "美洲", ["US", "CA", "MX", "BR", "AR", "CL", "CO", "PE"]),
    "global": ("Global", "全球", ["JP", "US", "FR", "DE", "GB", "AU", "TH", "SG", "AE", "TR"]),
}
PLANS_PER_REGION = 10
PROFILES = 1_000
COUNTRY = "JP"
COUNTRY_PATH = "/countries/jp/"
PLAN_CODE = "jp-5gb-30d"
PLAN_PATH = f"/plans/{PLAN_CODE}/"
ICCID_PREFIX = "8933"  # the other figures' cards start 8986 and 8944
CNY_PER_USD = Decimal("7.20")

# (data MB or None for unlimited, days, network): the eSIM plans of every country and region.
VARIANTS = [
    (1024, 7, "4g"),
    (3072, 15, "4g"),
    (5120, 30, "5g"),
    (10240, 30, "5g"),
    (20480, 30, "5g"),
    (1024, 1, "4g"),
    (None, 3, "4g"),
    (None, 7, "5g"),
    (None, 15, "5g"),
]


def _countries() -> list[str]:
    """COUNTRIES country codes, Japan and the regions' countries first."""
    from django_countries import countries

    chosen = [COUNTRY]
    for _name, _zh, codes in REGIONS.values():
        chosen += [code for code in codes if code not in chosen]
    chosen += [country.code for country in countries if country.code not in chosen]
    return chosen[:COUNTRIES]


def _usd(data_mb: int | None, days: int) -> Decimal:
    gigabytes = Decimal(data_mb or 30720) / 1024
    return (Decimal("2.50") + gigabytes * Decimal("0.90") + Decimal(days) / 10).quantize(
        Decimal("0.01")
    )


def _label(data_mb: int | None) -> str:
    return "Unlimited" if data_mb is None else f"{data_mb // 1024} GB"


def setup(ctx: "BenchContext") -> None:
    """The catalog described above."""
    from django.utils import translation
    from django_countries import countries
    from djmoney.money import Money

    from catalog.models import EsimProfile, Plan, PlanPrice, Region
    from catalog.validation import luhn_check_digit

    def money(amount: Decimal, currency: str) -> Any:
        return cast(Any, Money(amount, currency))

    regions = Region.objects.bulk_create(
        Region(code=code, name=name, name_zh_hans=zh, countries=cast(Any, codes))
        for code, (name, zh, codes) in REGIONS.items()
    )
    plans: list[Plan] = []
    addons: list[tuple[Plan, str]] = []  # (add-on, the country whose plans it fits)

    def plan(
        code: str, name: str, name_zh: str, data_mb: int | None, days: int, **more: Any
    ) -> Plan:
        unlimited = data_mb is None
        made = Plan(
            code=code,
            name=name,
            name_zh_hans=name_zh,
            kind=Plan.Kind.UNLIMITED if unlimited else more.pop("kind", Plan.Kind.DATA),
            data_mb=data_mb,
            daily_cap_mb=2048 if unlimited else None,
            validity_days=days,
            wholesale_cost=money(_usd(data_mb, days) * Decimal("0.4"), "USD"),
            **more,
        )
        plans.append(made)
        return made

    for n, country in enumerate(_countries()):
        english = str(countries.name(country))
        with translation.override("zh-hans"):
            chinese = str(countries.name(country))
        for data_mb, days, network in VARIANTS:
            label = _label(data_mb)
            plan(
                f"{country.lower()}-{label.lower().replace(' ', '')}-{days}d",
                f"{english} {label}, {days} days",
                f"{chinese} {label} {days} 天",
                data_mb,
                days,
                country=country,
                network=network,
                hotspot=n % 3 != 0,
                activation_policy=(
                    Plan.ActivationPolicy.ON_FIRST_USE
                    if days > 1
                    else Plan.ActivationPolicy.ON_INSTALL
                ),
            )
        addon = plan(
            f"{country.lower()}-topup-1gb",
            f"{english} add-on 1 GB",
            f"{chinese} 加油包 1 GB",
            1024,
            30,
            kind=Plan.Kind.TOPUP,
            country=country,
        )
        addons.append((addon, country))
    for region in regions:
        for data_mb, days, network in [*VARIANTS, (2048, 10, "4g")]:
            label = _label(data_mb)
            plan(
                f"{region.code}-{label.lower().replace(' ', '')}-{days}d",
                f"{region.name} {label}, {days} days",
                f"{region.name_zh_hans} {label} {days} 天",
                data_mb,
                days,
                region=region,
                network=network,
            )
    plans = Plan.objects.bulk_create(plans, batch_size=1_000)
    assert any(p.code == PLAN_CODE for p in plans), PLAN_CODE

    prices = []
    for p in plans:
        usd = _usd(p.data_mb, p.validity_days)
        prices.append(PlanPrice(plan=p, price=money(usd, "USD")))
        prices.append(
            PlanPrice(plan=p, price=money((usd * CNY_PER_USD).quantize(Decimal(1)), "CNY"))
        )
    PlanPrice.objects.bulk_create(prices, batch_size=2_000)
    base_by_country: dict[str, list[Plan]] = {}
    for p in plans:
        if p.country and p.kind != Plan.Kind.TOPUP:
            base_by_country.setdefault(str(p.country), []).append(p)
    Plan.fits.through.objects.bulk_create(
        Plan.fits.through(from_plan_id=addon.pk, to_plan_id=base.pk)
        for addon, country in addons
        for base in base_by_country[country]
    )
    sellable = [p for p in plans if p.kind != Plan.Kind.TOPUP]
    profiles = []
    for n in range(PROFILES):
        payload = f"{ICCID_PREFIX}{n:014d}"
        p = sellable[n % len(sellable)]
        profiles.append(
            EsimProfile(
                iccid=payload + luhn_check_digit(payload),
                smdp_address="smdp.bench.example.com",
                matching_id=f"BENCH-STOREFRONT-{n:08d}",
                plan=p,
                wholesale_cost=p.wholesale_cost,
            )
        )
    EsimProfile.objects.bulk_create(profiles, batch_size=1_000)
