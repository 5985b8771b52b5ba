"""Reading the device compatibility list for the checker page: a search by brand and model,
and the brands with how many models each. One query each, however long the list."""

import re

from django.db.models import Case, CharField, Count, IntegerField, Q, Value, When
from django.db.models.functions import Concat, Length

from catalog.models import Device

MAX_QUERY_LENGTH = 80
# What Chinese-speaking customers type for a brand, mapped to the brand's name in the list.
BRAND_ALIASES = {
    "苹果": "apple",
    "谷歌": "google",
    "三星": "samsung",
    "华为": "huawei",
    "小米": "xiaomi",
    "红米": "redmi",
    "索尼": "sony",
    "荣耀": "honor",
    "摩托罗拉": "motorola",
}


def device_query_tokens(query: str) -> list[str]:
    """The words of a search, lowercased, with Chinese brand names replaced."""
    text = query.strip().lower()
    for alias, brand in BRAND_ALIASES.items():
        text = text.replace(alias, f" {brand} ")
    return text.split()


def device_search(query: str, limit: int = 20) -> list[Device]:
    """Devices whose "brand model" contains every word of `query` (any case), best first:
    the exact model, then models starting with the query, then the shortest names."""
    tokens = device_query_tokens(query)
    if not tokens:
        return []
    phrase = " ".join(tokens)
    devices = Device.objects.annotate(
        full_name=Concat("brand", Value(" "), "model", output_field=CharField())
    )
    condition = Q()
    for token in tokens:
        condition &= Q(full_name__icontains=token)
    rank = Case(
        When(Q(model__iexact=phrase) | Q(full_name__iexact=phrase), then=Value(0)),
        When(Q(model__istartswith=phrase) | Q(full_name__istartswith=phrase), then=Value(1)),
        # A whole word matched, so "pixel 8" puts "Pixel 8a" after "Pixel 8 Pro".
        When(model__iregex=rf"(^|\s){re.escape(tokens[-1])}(\s|$)", then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return list(
        devices.filter(condition)
        .annotate(rank=rank, name_length=Length("model"))
        .order_by("rank", "name_length", "brand", "model")[:limit]
    )


def device_brands() -> list[tuple[str, int]]:
    """Every brand in the list with its number of models, alphabetically."""
    return list(
        Device.objects.values_list("brand")
        .annotate(models=Count("pk"))
        .order_by("brand")
        .values_list("brand", "models")
    )
