"""Finding where to go: the home page, the destination search and its instant suggestions, the
list of destinations, and a country's or a region's plans.

Prices are in the shopper's currency (accounts.currency.currency_of). Every page reads with a
constant number of queries, whatever the size of the catalog. These pages carry no CSRF token:
they are cached for visitors.
"""

from typing import Any

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views import View

from accounts.currency import currency_of
from billing.forms import format_money
from catalog.models import Region
from catalog.selectors.destinations import (
    Destination,
    country_names,
    country_of,
    destination_index,
    destination_plans,
    destination_search,
    region_by_code,
    region_countries,
)
from storefront.forms.destinations import (
    FILTER_INVALID,
    QUERY_MAX_LENGTH,
    SEARCH_LABEL,
    SEARCH_PLACEHOLDER,
    DestinationSearchForm,
    PlanFilterForm,
)

# The home page's popular destinations, in this order; those without plans are left out.
POPULAR_COUNTRIES = ("JP", "KR", "TH", "CN", "HK", "TW", "SG", "US", "GB", "FR")
SUGGESTIONS = 8


def destination_url(destination: Destination) -> str:
    name = "storefront:country" if destination.is_country else "storefront:region"
    return reverse(name, args=[destination.slug])


def _search_box(query: str = "") -> dict[str, Any]:
    return {
        "search_label": SEARCH_LABEL,
        "search_placeholder": SEARCH_PLACEHOLDER,
        "search_query": query,
        "search_max_length": QUERY_MAX_LENGTH,
    }


class HomeView(View):
    """/: the search box, popular destinations, regional and global plans, how it works."""

    template_name = "storefront/home.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        currency = currency_of(request)
        index = destination_index(currency=currency)
        by_code = {destination.code: destination for destination in index.countries}
        popular = [by_code[code] for code in POPULAR_COUNTRIES if code in by_code]
        context = {
            "currency": currency,
            "popular": popular,
            "regions": index.regions,
            "has_more": len(index.countries) > len(popular),
            **_search_box(),
        }
        return render(request, self.template_name, context)


class SearchView(View):
    """/search/?q=: the destinations matching the query; one match goes straight to it."""

    template_name = "storefront/search.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        currency = currency_of(request)
        form = DestinationSearchForm(request.GET)
        results: list[Destination] = []
        if form.is_valid():
            results = destination_search(query=form.cleaned_data["q"], currency=currency)
            if len(results) == 1:
                return HttpResponseRedirect(destination_url(results[0]))
        context = {
            "form": form,
            "currency": currency,
            "results": results,
            **_search_box(request.GET.get("q", "")[:QUERY_MAX_LENGTH]),
        }
        return render(request, self.template_name, context)


class SuggestView(View):
    """/search/suggest/?q=: up to 8 matches as JSON, for the search box's suggestions."""

    def get(self, request: HttpRequest) -> JsonResponse:
        form = DestinationSearchForm(request.GET)
        results: list[dict[str, str]] = []
        if form.is_valid():
            currency = currency_of(request)
            found = destination_search(
                query=form.cleaned_data["q"], currency=currency, limit=SUGGESTIONS
            )
            results = [
                {
                    "name": destination.name,
                    "other_name": destination.other_name,
                    "kind": destination.kind,
                    "url": destination_url(destination),
                    "from_price": format_money(destination.from_price, currency),
                }
                for destination in found
            ]
        return JsonResponse({"results": results})


class DestinationListView(View):
    """/destinations/: every country A–Z and every region, with from prices."""

    template_name = "storefront/destinations.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        currency = currency_of(request)
        index = destination_index(currency=currency)
        countries = sorted(index.countries, key=lambda d: d.name.casefold())
        regions = sorted(index.regions, key=lambda d: d.name.casefold())
        context = {"currency": currency, "countries": countries, "regions": regions}
        return render(request, self.template_name, {**context, **_search_box()})


def _plans_context(request: HttpRequest, currency: str, **destination: Any) -> dict[str, Any]:
    """The filter form and the destination's plans it keeps; Http404 when it has none."""
    form = PlanFilterForm(request.GET)
    days, data = form.filters()
    plans = destination_plans(currency=currency, days=days, data=data, **destination)
    if not plans.total:
        raise Http404
    asked_currency = request.GET.get("currency", "").upper()
    return {
        "currency": currency,
        "currency_param": asked_currency if asked_currency == currency else "",
        "filter_form": form,
        "filter_invalid": FILTER_INVALID if form.is_bound and not form.is_valid() else "",
        "plans": plans,
        "reset_url": request.path + (f"?currency={currency}" if asked_currency == currency else ""),
    }


class CountryView(View):
    """/countries/<iso>/: a country's plans and the regional plans that also cover it."""

    template_name = "storefront/destination.html"

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        country = country_of(code)
        if country is None:
            raise Http404
        if code != code.lower():
            return _canonical(request, reverse("storefront:country", args=[code.lower()]))
        context = _plans_context(request, currency_of(request), country=country.code)
        english, chinese = country_names(country.code) or (country.name, country.name)
        context.update(
            kind="country",
            country=country,
            name=country.name,
            other_name=english if get_language() == "zh-hans" else chinese,
        )
        return render(request, self.template_name, context)


class RegionView(View):
    """/regions/<code>/: the countries a region covers and its plans."""

    template_name = "storefront/destination.html"

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        if code != code.lower():
            return _canonical(request, reverse("storefront:region", args=[code.lower()]))
        region: Region | None = region_by_code(code=code)
        if region is None:
            raise Http404
        context = _plans_context(request, currency_of(request), region=region)
        context.update(
            kind="region",
            region=region,
            name=region.display_name,
            other_name=region.name
            if get_language() == "zh-hans"
            else (region.name_zh_hans if region.name_zh_hans != region.name else ""),
            covered=sorted(
                region_countries(region), key=lambda country: str(country.name).casefold()
            ),
        )
        return render(request, self.template_name, context)


def _canonical(request: HttpRequest, path: str) -> HttpResponse:
    query = request.META.get("QUERY_STRING", "")
    return HttpResponsePermanentRedirect(f"{path}?{query}" if query else path)
