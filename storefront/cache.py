"""A whole-page cache for anonymous visitors on the catalog pages (home, destinations, country,
region, plan, help, device checker).

These pages show the same bytes to every visitor who asks in the same language and currency, and
they are the ones search engines and new visitors hit hardest. `cache_page_for_visitors` wraps
their views: a visitor's GET or HEAD is answered from the cache (one round trip, no query) when
the same page was rendered within SIMDESK_PAGE_CACHE_SECONDS (0 switches the cache off).

Only a page that cannot differ between visitors is stored or served:

- the request is anonymous and has no session cookie (so no session is loaded), and carries no
  cookie but the language, currency and CSRF cookies: a messages cookie, say, means the page
  would show a message, so the view renders it;
- the response is a 200 that sets no cookie, added no message, did not touch the session and
  did not use a CSRF token (a token belongs to one visitor; that is why the language and
  currency switchers are plain links).

The key is the scheme, host, path, query (sorted), active language and currency. Each entry
carries the catalog version it was rendered at: `catalog_changed` (connected in
`storefront.apps`) sets a new version after any change to plans, prices, regions or devices
commits, and an entry of another version is a miss. The version is read in the same round trip
as the page, and a page is stored under the version read before it was rendered, so a page
rendered while a change commits is never served after it.

Two levels. The shared cache (Redis) holds the pages and the version for every process. Each
process also keeps the pages it served last (LOCAL_PAGES of them) and trusts the version it read
for LOCAL_SECONDS: a hit then costs no round trip at all, which is what lets a cached page run at
well over half the bare view's rate (Django's Redis backend builds a new client for every call,
about as costly as the rest of a hit). So a catalog change shows at once in the process that
made it (`version_bump` forgets the local pages) and within LOCAL_SECONDS in the others; a price
shown a second late is harmless, as checkout reads the price afresh. LOCAL_SECONDS = 0 turns the
local level off.
"""

import functools
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import translation
from django.utils.cache import patch_vary_headers

from accounts.currency import CURRENCY_COOKIE, currency_of

View = Callable[..., HttpResponseBase]

VERSION_KEY = "storefront:page-cache:version"
KEY_PREFIX = "storefront:page:"
# Set on every response of a wrapped view that could be cached: "hit" or "miss".
CACHE_HEADER = "X-Simdesk-Cache"
# Longer query strings (junk parameters) are rendered, not stored: they would only fill the cache.
MAX_QUERY_LENGTH = 256
# The view's own headers a stored page keeps (middleware adds the rest on every response).
KEPT_HEADERS = ("Content-Type", "Content-Language")
# How long a process trusts the catalog version it read, and how many pages it keeps itself.
LOCAL_SECONDS = 1.0
LOCAL_PAGES = 256

# An entry: (catalog version, when it was stored (time.time()), content, the view's headers).
Entry = tuple[Any, float, bytes, list[tuple[str, str]]]


class _Local:
    """This process's level: the version it read, until when it trusts it, and its pages."""

    version: Any = None
    trusted_until = 0.0  # time.monotonic()
    pages: dict[str, Entry] = {}


def local_forget() -> None:
    """Forget this process's pages and version (after a change; between tests)."""
    _Local.trusted_until = 0.0
    _Local.pages = {}


# --- Invalidation --------------------------------------------------------------------------------
def catalog_changed(**kwargs: Any) -> None:
    """Receiver of the catalog models' save, delete and m2m signals: after the change commits,
    every cached page is out of date. (Run at once outside a transaction.)"""
    transaction.on_commit(version_bump, using=kwargs.get("using"))


def version_bump() -> None:
    """A new catalog version: the one cache write a change costs."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    local_forget()


# --- The decorator -------------------------------------------------------------------------------
def cache_page_for_visitors(view: View) -> View:
    """Wraps a view function (`SomeView.as_view()`) with the anonymous visitors' page cache."""

    @functools.wraps(view)
    def cached_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        seconds = settings.SIMDESK_PAGE_CACHE_SECONDS
        if seconds <= 0 or not _request_cacheable(request):
            return view(request, *args, **kwargs)
        key = _page_key(request)
        version, entry = _lookup(key, seconds)
        if entry is not None:
            return _page_response(entry)
        response = view(request, *args, **kwargs)
        render = getattr(response, "render", None)
        if callable(render):  # a TemplateResponse: its bytes are needed now
            response = render()
        entry = _page_entry(request, response, version)
        if entry is not None:
            cache.set(key, entry, seconds)
            _remember(key, entry)
            response[CACHE_HEADER] = "miss"
            patch_vary_headers(response, ("Cookie", "Accept-Language"))
        return response

    return cached_view


def _lookup(key: str, seconds: int) -> tuple[Any, Entry | None]:
    """The current catalog version and the page stored under `key` for it, if any."""
    now = time.monotonic()
    if now < _Local.trusted_until:
        entry = _Local.pages.get(key)
        if entry is not None and entry[0] == _Local.version and _fresh(entry, seconds):
            return _Local.version, entry
    # One round trip for both; the version read here is the one a page rendered now is stored
    # under.
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY)
    if version != _Local.version:
        _Local.pages = {}
    _Local.version, _Local.trusted_until = version, now + LOCAL_SECONDS
    entry = found.get(key)
    if entry is None or entry[0] != version or not _fresh(entry, seconds):
        return version, None
    _remember(key, entry)
    return version, entry


def _fresh(entry: Entry, seconds: int) -> bool:
    return time.time() < entry[1] + seconds


def _remember(key: str, entry: Entry) -> None:
    if LOCAL_SECONDS <= 0 or entry[0] != _Local.version:
        return
    pages = _Local.pages
    pages.pop(key, None)
    if len(pages) >= LOCAL_PAGES:
        del pages[next(iter(pages))]  # the one stored longest ago
    pages[key] = entry


def _request_cacheable(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    # The cookies first: without a session cookie, the user below is anonymous without a query.
    allowed = {settings.LANGUAGE_COOKIE_NAME, CURRENCY_COOKIE, settings.CSRF_COOKIE_NAME}
    if not set(request.COOKIES) <= allowed:
        return False
    if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_LENGTH:
        return False
    user = getattr(request, "user", None)
    return user is None or not user.is_authenticated


def _page_key(request: HttpRequest) -> str:
    query = sorted((name, values) for name, values in request.GET.lists())
    parts = (
        request.scheme,
        request.get_host(),
        request.path,
        repr(query),
        translation.get_language() or "",
        currency_of(request),
    )
    return KEY_PREFIX + hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()


def _page_entry(request: HttpRequest, response: HttpResponseBase, version: Any) -> Entry | None:
    """What to store of a freshly rendered page, or None when it must not be stored."""
    if (
        not isinstance(response, HttpResponse)  # a streamed or file response
        or response.status_code != 200
        or response.cookies
        or response.has_header("Cache-Control")  # the view has its own say (no-store, private)
        # get_token() was called: the page holds this visitor's CSRF token. (Django before 4.1
        # said CSRF_COOKIE_USED; 4.1+ sets CSRF_COOKIE_NEEDS_UPDATE, also for a bad cookie.)
        or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        or request.META.get("CSRF_COOKIE_USED")
        or messages.get_messages(request)
        or getattr(getattr(request, "session", None), "modified", False)
    ):
        return None
    headers = [(name, response[name]) for name in KEPT_HEADERS if response.has_header(name)]
    return (version, time.time(), response.content, headers)


def _page_response(entry: Entry) -> HttpResponse:
    _version, _stored_at, content, headers = entry
    response = HttpResponse(content)
    for name, value in headers:
        response[name] = value
    response[CACHE_HEADER] = "hit"
    patch_vary_headers(response, ("Cookie", "Accept-Language"))
    return response
