"""Demo catalog for `make run`: regions, plans priced in every currency, eSIM stock, devices.

Everything is fixed data (no randomness), so every run describes the same catalog. Idempotent:
rows are looked up by their natural keys (code, plan and currency, ICCID, brand and model) and
only the missing ones are created, so a second run adds nothing and changes nothing, not even
what staff edited in the demo. Bulk queries throughout: a run takes well under a second on SQLite.

The names below are data in two languages, not translatable strings.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from djmoney.money import Money

from .models import EsimProfile, Plan, PlanPrice, Region
from .services.devices import devices_load
from .validation import luhn_check_digit

SMDP_ADDRESS = "smdp.demo.simdesk.test"  # .test is reserved (RFC 2606): it never resolves.
TOTAL_PROFILES = 2_000
BATCH_SIZE = 500
# Synthetic ICCIDs: 89 (telecom), 999 (no country) or 86 (China), a made-up issuer code, then
# the plan's number in PLANS, a scrambled serial and the Luhn check digit.
ICCID_PREFIX = "899901"  # 19 digits in all
ICCID_PREFIX_CN = "8986099"  # 20 digits in all, for plans sold for mainland China
WHOLESALE_SHARE = Decimal("0.6")  # wholesale cost = 60% of the USD retail price

Kind = Plan.Kind
LTE, NR = Plan.Network.LTE, Plan.Network.NR
ON_INSTALL, ON_FIRST_USE = Plan.ActivationPolicy.ON_INSTALL, Plan.ActivationPolicy.ON_FIRST_USE

# --- Destinations ----------------------------------------------------------------------------

# Single-country destinations: ISO code -> (English, Simplified Chinese).
COUNTRIES: dict[str, tuple[str, str]] = {
    "JP": ("Japan", "日本"),
    "KR": ("South Korea", "韩国"),
    "TH": ("Thailand", "泰国"),
    "SG": ("Singapore", "新加坡"),
    "MY": ("Malaysia", "马来西亚"),
    "US": ("United States", "美国"),
    "GB": ("United Kingdom", "英国"),
    "FR": ("France", "法国"),
    "DE": ("Germany", "德国"),
    "IT": ("Italy", "意大利"),
    "ES": ("Spain", "西班牙"),
    "AU": ("Australia", "澳大利亚"),
    "NZ": ("New Zealand", "新西兰"),
    "CA": ("Canada", "加拿大"),
    "HK": ("Hong Kong", "中国香港"),
    "MO": ("Macao", "中国澳门"),
    "TW": ("Taiwan", "中国台湾"),
    "VN": ("Vietnam", "越南"),
    "ID": ("Indonesia", "印度尼西亚"),
    "PH": ("Philippines", "菲律宾"),
    "AE": ("United Arab Emirates", "阿联酋"),
    "TR": ("Türkiye", "土耳其"),
    "CH": ("Switzerland", "瑞士"),
    "NL": ("Netherlands", "荷兰"),
    "GR": ("Greece", "希腊"),
    "PT": ("Portugal", "葡萄牙"),
    "EG": ("Egypt", "埃及"),
    "RU": ("Russia", "俄罗斯"),
    "CN": ("Mainland China", "中国大陆"),
    "IN": ("India", "印度"),
}


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    name_zh_hans: str
    label: str  # short forms for plan names
    label_zh_hans: str
    countries: tuple[str, ...]


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_EU_27 = _codes("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE")
_SOUTHEAST_ASIA = _codes("SG MY TH VN ID PH KH LA")
_GLOBAL = _codes(
    "US CA MX BR GB FR DE IT ES NL CH PT GR TR AE SA EG ZA RU IN "
    "CN HK MO TW JP KR SG MY TH VN ID PH AU NZ"
)

REGIONS: tuple[RegionSpec, ...] = (
    RegionSpec(
        "europe-33",
        "Europe (33 countries)",
        "欧洲33国",
        "Europe",
        "欧洲33国",
        (*_EU_27, "GB", "CH", "NO", "IS", "LI", "TR"),
    ),
    RegionSpec(
        "asia-12",
        "Asia (12 countries and regions)",
        "亚洲12国/地区",
        "Asia",
        "亚洲12国/地区",
        _codes("CN HK MO TW JP KR SG MY TH VN ID PH"),
    ),
    RegionSpec(
        "global",
        f"Global ({len(_GLOBAL)} countries and regions)",
        f"全球{len(_GLOBAL)}国/地区",
        "Global",
        "全球",
        _GLOBAL,
    ),
    RegionSpec(
        "southeast-asia",
        f"Southeast Asia ({len(_SOUTHEAST_ASIA)} countries)",
        f"东南亚{len(_SOUTHEAST_ASIA)}国",
        "Southeast Asia",
        "东南亚",
        _SOUTHEAST_ASIA,
    ),
    RegionSpec(
        "north-america",
        "North America (US, Canada, Mexico)",
        "北美（美国、加拿大、墨西哥）",
        "North America",
        "北美",
        _codes("US CA MX"),
    ),
)
_REGION_LABELS = {r.code: (r.label, r.label_zh_hans) for r in REGIONS}
_DIALLING_CODES = {"CN": "+86", "HK": "+852", "US": "+1"}

# --- Plans -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSpec:
    code: str
    kind: str
    coverage: str  # a key of COUNTRIES or a region code
    data_mb: int | None
    daily_cap_mb: int | None
    validity_days: int
    usd: Decimal  # retail price in USD; the other currencies follow from it
    network: str = LTE
    hotspot: bool = True
    activation_policy: str = ON_FIRST_USE
    renewable: bool = True
    weight: int = 1  # share of the eSIM stock (popular plans get more)
    stock: int | None = None  # a fixed number of profiles instead of a share
    low_stock_threshold: int = 0

    @property
    def country(self) -> str:
        return self.coverage if self.coverage in COUNTRIES else ""

    def names(self) -> tuple[str, str]:
        label, label_zh = COUNTRIES.get(self.coverage) or _REGION_LABELS[self.coverage]
        days, gb = self.validity_days, (self.data_mb or 0) // 1024
        if self.kind == Kind.UNLIMITED:
            return f"{label} Unlimited · {days} days", f"{label_zh} 不限流量 · {days}天"
        if self.kind == Kind.NUMBER_KEEPING:
            dial = _DIALLING_CODES[self.coverage]
            return (
                f"{label} number keeping ({dial}) · {days} days",
                f"{label_zh}保号（{dial}） · {days}天",
            )
        if self.kind == Kind.TOPUP:
            return f"{label} top-up {gb} GB · {days} days", f"{label_zh} 加油包 {gb}GB · {days}天"
        return f"{label} {gb} GB · {days} days", f"{label_zh} {gb}GB · {days}天"


def _slug(coverage: str) -> str:
    return coverage.lower()


def _data(coverage: str, gb: int, days: int, usd: str, **options: Any) -> PlanSpec:
    return PlanSpec(
        f"{_slug(coverage)}-{gb}gb-{days}d",
        Kind.DATA,
        coverage,
        gb * 1024,
        None,
        days,
        Decimal(usd),
        **options,
    )


def _unlimited(coverage: str, days: int, usd: str, cap_mb: int = 2048, **options: Any) -> PlanSpec:
    options.setdefault("hotspot", False)
    return PlanSpec(
        f"{_slug(coverage)}-unlimited-{days}d",
        Kind.UNLIMITED,
        coverage,
        None,
        cap_mb,
        days,
        Decimal(usd),
        **options,
    )


def _number_keeping(country: str, usd: str) -> PlanSpec:
    # A year on a home number: calls and texts, a little data; renewed once a year.
    return PlanSpec(
        f"{_slug(country)}-number-365d",
        Kind.NUMBER_KEEPING,
        country,
        100,
        None,
        365,
        Decimal(usd),
        hotspot=False,
        activation_policy=ON_INSTALL,
    )


def _topup(coverage: str, gb: int, usd: str, days: int = 30) -> PlanSpec:
    # Added to an eSIM the customer already has: no profiles of its own.
    return PlanSpec(
        f"{_slug(coverage)}-topup-{gb}gb",
        Kind.TOPUP,
        coverage,
        gb * 1024,
        None,
        days,
        Decimal(usd),
        activation_policy=ON_INSTALL,
        renewable=False,
        weight=0,
    )


PLANS: tuple[PlanSpec, ...] = (
    # Single countries.
    _data("JP", 1, 7, "4.99", weight=3, renewable=False),
    _data("JP", 5, 30, "12.99", network=NR, weight=4, low_stock_threshold=20),
    _data("JP", 10, 30, "19.99", network=NR, weight=3),
    _unlimited("JP", 7, "17.99", network=NR, weight=3, low_stock_threshold=20),
    _data("KR", 3, 15, "8.99", weight=3, low_stock_threshold=20),
    _data("KR", 10, 30, "18.99", network=NR, weight=2),
    _unlimited("KR", 7, "15.99", activation_policy=ON_INSTALL, weight=2),
    _data("TH", 5, 15, "7.99", weight=3, low_stock_threshold=20),
    # 21 in stock, threshold 20: two sales set off the low-stock email.
    _unlimited("TH", 15, "19.99", cap_mb=3072, stock=21, low_stock_threshold=20),
    _data("SG", 3, 15, "6.99", network=NR, weight=2),
    _data("MY", 3, 15, "5.99", weight=2),
    _data("US", 5, 30, "14.99", network=NR, weight=3, low_stock_threshold=20),
    _data("US", 20, 30, "34.99", network=NR, weight=2),
    _data("GB", 5, 30, "12.99", weight=2),
    _data("GB", 20, 30, "29.99", network=NR),
    _data("FR", 5, 30, "11.99"),
    _data("DE", 5, 30, "11.99"),
    _data("IT", 3, 15, "8.99"),
    _data("ES", 3, 15, "8.99"),
    _data("AU", 5, 30, "14.99"),
    _data("NZ", 3, 15, "10.99"),
    _data("CA", 5, 30, "16.99"),
    _data("HK", 1, 7, "3.99", weight=3),
    _data("HK", 5, 30, "9.99", network=NR, weight=3, low_stock_threshold=20),
    # Below their threshold from the start: the next low-stock check emails reseller staff.
    _data("MO", 1, 7, "3.99", renewable=False, stock=8, low_stock_threshold=20),
    _data("TW", 3, 15, "6.99", weight=2),
    _unlimited("TW", 7, "13.99", cap_mb=1024, stock=12, low_stock_threshold=20),
    _data("VN", 5, 15, "6.99", weight=2),
    _data("ID", 5, 15, "7.99"),
    _data("PH", 3, 15, "6.99"),
    _data("AE", 3, 15, "12.99", network=NR),
    _data("TR", 5, 15, "9.99"),
    _data("CH", 3, 15, "11.99"),
    _data("NL", 3, 15, "8.99"),
    _data("GR", 3, 15, "8.99"),
    _data("PT", 3, 15, "8.99"),
    _data("EG", 1, 7, "6.99", renewable=False),
    _data("RU", 3, 15, "9.99", activation_policy=ON_INSTALL),
    _data("CN", 5, 30, "14.99", network=NR, activation_policy=ON_INSTALL, weight=2),
    _data("IN", 3, 15, "7.99"),
    # Keeping a home number while abroad.
    _number_keeping("CN", "29.99"),
    _number_keeping("HK", "19.99"),
    _number_keeping("US", "24.99"),
    # Regions.
    _data("europe-33", 5, 15, "14.99", weight=3, low_stock_threshold=20),
    _data("europe-33", 10, 30, "24.99", network=NR, weight=3),
    _unlimited("europe-33", 15, "39.99", weight=2),
    _data("asia-12", 3, 15, "11.99", weight=3, low_stock_threshold=20),
    _data("asia-12", 10, 30, "27.99", network=NR, weight=2),
    _data("global", 3, 30, "24.99", weight=2),
    _data("global", 10, 30, "59.99"),
    _data("southeast-asia", 5, 15, "11.99", weight=2),
    _unlimited("southeast-asia", 7, "16.99", weight=2),
    _data("north-america", 5, 30, "19.99", network=NR, weight=2),
    _data("north-america", 10, 30, "29.99", network=NR),
    # Top-up add-ons: they fit the data and number-keeping plans of the same coverage.
    _topup("JP", 1, "3.99"),
    _topup("HK", 1, "2.99"),
    _topup("CN", 1, "3.99"),
    _topup("europe-33", 3, "8.99"),
    _topup("asia-12", 1, "4.99"),
    _topup("global", 1, "7.99"),
)

# --- Prices ----------------------------------------------------------------------------------


def _ending_99(amount: Decimal) -> Decimal:
    """4.59 -> 4.99, 18.39 -> 17.99: the nearest whole amount less a cent."""
    return max(amount.quantize(Decimal(1), ROUND_HALF_UP) - Decimal("0.01"), Decimal("0.99"))


def _whole(amount: Decimal) -> Decimal:
    return max(amount.quantize(Decimal(1), ROUND_HALF_UP), Decimal(1))


def _tens(amount: Decimal) -> Decimal:
    return max((amount / 10).quantize(Decimal(1), ROUND_HALF_UP) * 10, Decimal(10))


# Fixed demo rates per USD and the retail rounding usual for the currency.
RATES: dict[str, tuple[Decimal, Callable[[Decimal], Decimal]]] = {
    "USD": (Decimal(1), _ending_99),
    "EUR": (Decimal("0.92"), _ending_99),
    "GBP": (Decimal("0.79"), _ending_99),
    "CNY": (Decimal("7.2"), _whole),
    "HKD": (Decimal("7.8"), _whole),
    "MOP": (Decimal("8.0"), _whole),
    "SGD": (Decimal("1.35"), _ending_99),
    "AUD": (Decimal("1.52"), _ending_99),
    "CAD": (Decimal("1.37"), _ending_99),
    "JPY": (Decimal(150), _tens),
}


def retail_price(usd: Decimal, currency: str) -> Decimal:
    rate, rounding = RATES[currency]
    return usd if currency == "USD" else rounding(usd * rate).quantize(Decimal("0.01"))


# --- eSIM profiles ---------------------------------------------------------------------------


def _stock_per_plan() -> dict[str, int]:
    """TOTAL_PROFILES shared by weight (largest remainder), after the fixed stocks."""
    fixed = {p.code: p.stock for p in PLANS if p.stock is not None}
    weighted = [p for p in PLANS if p.stock is None and p.weight > 0]
    left = TOTAL_PROFILES - sum(fixed.values())
    total_weight = sum(p.weight for p in weighted)
    exact = {p.code: Decimal(left * p.weight) / total_weight for p in weighted}
    shares = {code: int(value) for code, value in exact.items()}
    by_remainder = sorted(weighted, key=lambda p: exact[p.code] - shares[p.code], reverse=True)
    for plan in by_remainder[: left - sum(shares.values())]:
        shares[plan.code] += 1
    return {**fixed, **shares}


def _iccid(plan_number: int, serial: int, country: str) -> str:
    # Serials are scrambled (a bijection mod 10**9) so the numbers look like real card numbers.
    scrambled = (serial * 7_654_321 + plan_number * 1_234_567) % 10**9
    prefix = ICCID_PREFIX_CN if country == "CN" else ICCID_PREFIX
    payload = f"{prefix}{plan_number:03d}{scrambled:09d}"
    return payload + luhn_check_digit(payload)


def _matching_id(iccid: str) -> str:
    digest = hashlib.sha256(f"simdesk-demo:{iccid}".encode()).hexdigest().upper()
    return f"DEMO-{digest[:4]}-{digest[4:8]}-{digest[8:12]}"


def _confirmation_code(iccid: str) -> str:
    digest = hashlib.sha256(f"simdesk-demo-cc:{iccid}".encode()).hexdigest()
    return f"{int(digest[:8], 16) % 10_000:04d}"


# --- Seed ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCatalogSummary:
    countries: int  # destinations with single-country plans
    regions: int
    plans: int
    currencies: tuple[str, ...]  # every plan has a price in each
    unpriced_currencies: tuple[str, ...]  # configured, but without a demo rate
    profiles: int
    devices: int
    low_stock_plans: tuple[str, ...]  # codes of plans seeded below their threshold
    created: int  # rows this run added; 0 when the demo catalog was already complete


@transaction.atomic
def demo_catalog_seed() -> DemoCatalogSummary:
    created = 0
    regions, count = _regions_seed()
    created += count
    plans, count = _plans_seed(regions)
    created += count
    created += _fits_seed(plans)
    currencies = [c for c in settings.SIMDESK_CURRENCIES if c in RATES]
    created += _prices_seed(plans, currencies)
    stock = _stock_per_plan()
    created += _profiles_seed(plans, stock)
    devices, count = _devices_seed()
    created += count
    return DemoCatalogSummary(
        countries=len({p.country for p in PLANS} - {""}),
        regions=len(REGIONS),
        plans=len(PLANS),
        currencies=tuple(currencies),
        unpriced_currencies=tuple(c for c in settings.SIMDESK_CURRENCIES if c not in RATES),
        profiles=sum(stock.values()),
        devices=devices,
        low_stock_plans=tuple(
            p.code for p in PLANS if stock.get(p.code, 0) < p.low_stock_threshold
        ),
        created=created,
    )


def _regions_seed() -> tuple[dict[str, Region], int]:
    codes = [r.code for r in REGIONS]
    existing = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
    missing = [
        Region(
            code=r.code,
            name=r.name,
            name_zh_hans=r.name_zh_hans,
            countries=cast(Any, list(r.countries)),
        )
        for r in REGIONS
        if r.code not in existing
    ]
    Region.objects.bulk_create(missing)
    return Region.objects.in_bulk(codes, field_name="code"), len(missing)


def _plans_seed(regions: dict[str, Region]) -> tuple[dict[str, Plan], int]:
    codes = [p.code for p in PLANS]
    existing = set(Plan.objects.filter(code__in=codes).values_list("code", flat=True))
    missing = []
    for spec in PLANS:
        if spec.code in existing:
            continue
        name, name_zh_hans = spec.names()
        cost = (spec.usd * WHOLESALE_SHARE).quantize(Decimal("0.01"), ROUND_HALF_UP)
        missing.append(
            Plan(
                code=spec.code,
                name=name,
                name_zh_hans=name_zh_hans,
                kind=spec.kind,
                country=spec.country,
                region=None if spec.country else regions[spec.coverage],
                data_mb=spec.data_mb,
                daily_cap_mb=spec.daily_cap_mb,
                validity_days=spec.validity_days,
                network=spec.network,
                hotspot=spec.hotspot,
                activation_policy=spec.activation_policy,
                renewable=spec.renewable,
                wholesale_cost=cast(Any, Money(cost, "USD")),
                low_stock_threshold=spec.low_stock_threshold,
            )
        )
    Plan.objects.bulk_create(missing)
    return Plan.objects.in_bulk(codes, field_name="code"), len(missing)


def _fits_seed(plans: dict[str, Plan]) -> int:
    """Each add-on fits the plans with a data allowance (not unlimited) of the same coverage."""
    Fit = Plan.fits.through
    wanted = {
        (plans[addon.code].pk, plans[base.code].pk)
        for addon in PLANS
        if addon.kind == Kind.TOPUP
        for base in PLANS
        if base.coverage == addon.coverage and base.kind in (Kind.DATA, Kind.NUMBER_KEEPING)
    }
    addon_ids = {addon_id for addon_id, _ in wanted}
    existing = set(
        Fit.objects.filter(from_plan_id__in=addon_ids).values_list("from_plan_id", "to_plan_id")
    )
    missing = [Fit(from_plan_id=a, to_plan_id=b) for a, b in sorted(wanted - existing)]
    Fit.objects.bulk_create(missing)
    return len(missing)


def _prices_seed(plans: dict[str, Plan], currencies: list[str]) -> int:
    plan_ids = [plan.pk for plan in plans.values()]
    existing = set(
        PlanPrice.objects.filter(plan_id__in=plan_ids).values_list("plan_id", "price_currency")
    )
    missing = [
        PlanPrice(
            plan=plans[spec.code],
            price=cast(Any, Money(retail_price(spec.usd, currency), currency)),
        )
        for spec in PLANS
        for currency in currencies
        if (plans[spec.code].pk, currency) not in existing
    ]
    PlanPrice.objects.bulk_create(missing, batch_size=BATCH_SIZE)
    return len(missing)


def _profiles_seed(plans: dict[str, Plan], stock: dict[str, int]) -> int:
    existing = set(
        EsimProfile.objects.filter(
            Q(iccid__startswith=ICCID_PREFIX) | Q(iccid__startswith=ICCID_PREFIX_CN)
        ).values_list("iccid", flat=True)
    )
    missing = []
    for number, spec in enumerate(PLANS, start=1):
        plan = plans[spec.code]
        for serial in range(stock.get(spec.code, 0)):
            iccid = _iccid(number, serial, spec.country)
            if iccid in existing:
                continue
            missing.append(
                EsimProfile(
                    iccid=iccid,
                    smdp_address=SMDP_ADDRESS,
                    matching_id=_matching_id(iccid),
                    # Number-keeping carriers ask for a confirmation code at install.
                    confirmation_code=(
                        _confirmation_code(iccid) if spec.kind == Kind.NUMBER_KEEPING else ""
                    ),
                    plan=plan,
                    wholesale_cost=plan.wholesale_cost,
                    status=EsimProfile.Status.AVAILABLE,
                )
            )
    EsimProfile.objects.bulk_create(missing, batch_size=BATCH_SIZE)
    return len(missing)


def _devices_seed() -> tuple[int, int]:
    """The device list of catalog/data/devices.csv: (devices in the file, devices added)."""
    loaded = devices_load()
    return loaded.total, loaded.added
