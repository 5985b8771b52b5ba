"""Where customers can go: the destination index (countries and regions with plans for sale in a
currency, each with its "from" price), the destination search, and a destination's plans.

Everything here reads with a constant number of queries whatever the size of the catalog: one
grouped query over plans and prices, one for the regions; matching and grouping happen in Python
over that bounded result. Add-ons (kind "topup") are never destinations' plans.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Final, Literal, cast

from django.db.models import Count, Min, Q
from django.utils import translation
from django_countries import countries as all_countries
from django_countries.fields import Country

from catalog.models import Plan, Region

COUNTRY: Final = "country"
REGION: Final = "region"
DestinationKind = Literal["country", "region"]

# Other names people type for a country: what its English and Chinese names and code miss.
ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("USA", "America", "United States", "美国", "美國"),
    "GB": ("UK", "Britain", "Great Britain", "England", "Scotland", "Wales", "英国", "英國"),
    "KR": ("Korea", "South Korea", "韩国", "韓國", "南韩"),
    "HK": ("HK", "Hongkong", "香港"),
    "MO": ("Macau", "澳门", "澳門"),
    "TW": ("Taiwan", "台湾", "臺灣"),
    "CN": ("China", "Mainland China", "中国大陆"),
    "AE": ("UAE", "Emirates", "Dubai", "阿联酋"),
    "NL": ("Holland", "荷兰"),
    "CZ": ("Czech Republic", "Czechia"),
    "TR": ("Turkey", "Türkiye", "Turkiye"),
    "VN": ("Vietnam", "Viet Nam"),
    "RU": ("Russia",),
    "JP": ("Nippon", "日本国"),
}

# Filters of a destination's plans: key -> inclusive (low, high) bounds, None for open.
DAYS_FILTERS: dict[str, tuple[int | None, int | None]] = {
    "le7": (None, 7),
    "8-15": (8, 15),
    "16-30": (16, 30),
    "gt30": (31, None),
}
MB_PER_GB = 1024
UNLIMITED = "unlimited"
# Data in MB; (low, high] for sizes, "unlimited" for plans without a data allowance.
DATA_FILTERS: dict[str, tuple[int | None, int | None]] = {
    "le3": (None, 3 * MB_PER_GB),
    "3-10": (3 * MB_PER_GB, 10 * MB_PER_GB),
    "gt10": (10 * MB_PER_GB, None),
    UNLIMITED: (None, None),
}


@dataclass(frozen=True)
class Destination:
    """A country or a region with plans for sale in one currency."""

    kind: DestinationKind
    code: str  # ISO alpha-2 (upper case) for a country, the region's slug for a region
    name_en: str
    name_zh: str
    from_price: Decimal
    plan_count: int
    aliases: tuple[str, ...] = field(default=(), compare=False)

    @property
    def name(self) -> str:
        """The name in the active language."""
        return self.name_zh if translation.get_language() == "zh-hans" else self.name_en

    @property
    def other_name(self) -> str:
        """The name in the other language, for people who type in one and read in the other."""
        return self.name_en if translation.get_language() == "zh-hans" else self.name_zh

    @property
    def slug(self) -> str:
        """What goes in the destination's URL: lower-case ISO code or region code."""
        return self.code.lower()

    @property
    def is_country(self) -> bool:
        return self.kind == COUNTRY


@dataclass(frozen=True)
class DestinationIndex:
    countries: list[Destination]  # by English name
    regions: list[Destination]  # by English name

    def country(self, code: str) -> Destination | None:
        code = code.upper()
        return next((d for d in self.countries if d.code == code), None)

    def all(self) -> list[Destination]:
        return [*self.countries, *self.regions]


@cache
def _country_names() -> dict[str, tuple[str, str]]:
    """ISO code -> (English name, Chinese name), for every country django-countries knows."""
    with translation.override("en"):
        english = {code: str(name) for code, name in all_countries}
    with translation.override("zh-hans"):
        chinese = {code: str(name) for code, name in all_countries}
    return {code: (english[code], chinese.get(code, english[code])) for code in english}


def country_names(code: str) -> tuple[str, str] | None:
    """(English, Chinese) names of the ISO alpha-2 `code`, or None for no such country."""
    return _country_names().get(code.upper())


def destination_index(*, currency: str) -> DestinationIndex:
    """Every country with at least one plan priced in `currency` (its own or a region's that
    covers it) and every region with such plans, with its lowest price and number of plans.
    Two queries."""
    rows = (
        Plan.objects.filter(is_active=True, prices__price_currency=currency)
        .exclude(kind=Plan.Kind.TOPUP)
        .values("country", "region_id")
        .annotate(from_price=Min("prices__price"), plan_count=Count("id"))
        .order_by()
    )
    by_country: dict[str, tuple[Decimal, int]] = {}
    by_region: dict[int, tuple[Decimal, int]] = {}
    for row in rows:
        stats = (row["from_price"], row["plan_count"])
        if row["region_id"] is not None:
            by_region[row["region_id"]] = stats
        elif row["country"]:
            by_country[str(row["country"])] = stats

    regions = list(Region.objects.filter(pk__in=by_region)) if by_region else []
    covering: dict[str, list[tuple[Decimal, int]]] = {}
    region_list = []
    for region in regions:
        price, count = by_region[region.pk]
        region_list.append(
            Destination(
                kind=REGION,
                code=region.code,
                name_en=region.name,
                name_zh=region.name_zh_hans or region.name,
                from_price=price,
                plan_count=count,
            )
        )
        for country in region_countries(region):
            covering.setdefault(country.code, []).append((price, count))

    names = _country_names()
    country_list = []
    for code in by_country.keys() | covering.keys():
        if code not in names:
            continue
        offers = [*covering.get(code, []), *([by_country[code]] if code in by_country else [])]
        english, chinese = names[code]
        country_list.append(
            Destination(
                kind=COUNTRY,
                code=code,
                name_en=english,
                name_zh=chinese,
                from_price=min(price for price, _count in offers),
                plan_count=sum(count for _price, count in offers),
                aliases=ALIASES.get(code, ()),
            )
        )
    country_list.sort(key=lambda d: d.name_en.casefold())
    region_list.sort(key=lambda d: d.name_en.casefold())
    return DestinationIndex(countries=country_list, regions=region_list)


def _match_rank(query: str, destination: Destination) -> int | None:
    """0: the code, a name or an alias is the query; 1: one starts with it; 2: a word of one
    starts with it; 3: one contains it; None: no match. `query` is casefolded."""
    texts = [destination.name_en, destination.name_zh, *destination.aliases]
    folded = [text.casefold() for text in texts]
    if query == destination.code.casefold() or query in folded:
        return 0
    if any(text.startswith(query) for text in folded):
        return 1
    if any(word.startswith(query) for text in folded for word in text.replace("-", " ").split()):
        return 2
    if any(query in text for text in folded):
        return 3
    return None


def destination_search(*, query: str, currency: str, limit: int | None = None) -> list[Destination]:
    """Countries and regions with plans in `currency` whose English or Chinese name, code or a
    usual alias matches `query` (case-insensitive), whatever the page's language: exact matches
    first, then prefixes, then substrings. "日本", "Japan", "jap" and "jp" all find Japan."""
    folded = " ".join(query.split()).casefold()
    if not folded:
        return []
    index = destination_index(currency=currency)
    ranked = []
    for destination in index.all():
        rank = _match_rank(folded, destination)
        if rank is not None:
            ranked.append((rank, destination.kind != COUNTRY, destination.name_en, destination))
    ranked.sort(key=lambda item: item[:3])
    found = [item[3] for item in ranked]
    return found if limit is None else found[:limit]


@dataclass(frozen=True)
class DestinationPlans:
    """A destination's plans priced in a currency, cheapest first, each with `price_amount`.
    `own`: the country's (or the region's) plans; `regional`: region plans covering a country.
    `total`: how many there are before the filters."""

    own: list[Plan]
    regional: list[Plan]
    total: int

    @property
    def count(self) -> int:
        return len(self.own) + len(self.regional)


def _in_range(value: int, bounds: tuple[int | None, int | None], low_inclusive: bool) -> bool:
    low, high = bounds
    if low is not None and (value < low if low_inclusive else value <= low):
        return False
    return high is None or value <= high


def _keeps(plan: Plan, days: str, data: str) -> bool:
    if days and not _in_range(plan.validity_days, DAYS_FILTERS[days], low_inclusive=True):
        return False
    if data == UNLIMITED:
        return plan.data_mb is None
    if data:
        return plan.data_mb is not None and _in_range(
            plan.data_mb, DATA_FILTERS[data], low_inclusive=False
        )
    return True


def _filtered(plans: Iterable[Plan], days: str, data: str) -> list[Plan]:
    return [plan for plan in plans if _keeps(plan, days, data)]


def destination_plans(
    *,
    currency: str,
    country: str | None = None,
    region: Region | None = None,
    days: str = "",
    data: str = "",
) -> DestinationPlans:
    """The plans of a country (its own, and the region plans that cover it) or of a region,
    priced in `currency`, sorted by price then code, kept by the `days` and `data` filters
    (keys of DAYS_FILTERS and DATA_FILTERS; "" for any). One query."""
    if (country is None) == (region is None):
        raise ValueError("Give a country or a region.")
    if days and days not in DAYS_FILTERS:
        raise ValueError(f"Unknown days filter {days!r}.")
    if data and data not in DATA_FILTERS:
        raise ValueError(f"Unknown data filter {data!r}.")
    # The filter on the price's currency precedes the annotation, so Min() reads that row only.
    plans = (
        Plan.objects.filter(is_active=True, prices__price_currency=currency)
        .exclude(kind=Plan.Kind.TOPUP)
        .annotate(price_amount=Min("prices__price"))
        .select_related("region")
        .order_by("price_amount", "code")
    )
    if region is not None:
        found = list(plans.filter(region=region))
        return DestinationPlans(own=_filtered(found, days, data), regional=[], total=len(found))
    code = re.escape(str(country).upper())
    # Region.countries is stored as "FR,DE,IT": the code between commas or the ends.
    found = list(plans.filter(Q(country=code) | Q(region__countries__regex=rf"(^|,){code}(,|$)")))
    own = [plan for plan in found if plan.region_id is None]
    regional = [plan for plan in found if plan.region_id is not None]
    return DestinationPlans(
        own=_filtered(own, days, data), regional=_filtered(regional, days, data), total=len(found)
    )


def region_by_code(*, code: str) -> Region | None:
    """The region with this code (case-insensitive), or None."""
    return Region.objects.filter(code=code.lower()).first()


def region_countries(region: Region) -> list[Country]:
    """The region's countries as Country objects (the field's descriptor makes them so)."""
    return cast(list[Country], region.countries)


def country_of(code: str) -> Country | None:
    """The django-countries Country of an ISO alpha-2 code (any case), or None."""
    code = code.upper()
    return Country(code) if len(code) == 2 and code in _country_names() else None
