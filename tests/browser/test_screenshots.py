"""Every key storefront page, in English and in Chinese, at a phone's and a desktop's width.

Each page is checked the way a reader would notice a fault: it answers, the document's language
is the one chosen, the main heading is in that language, nothing is wider than the screen (no
sideways scrolling on a phone), every form field has a label, and axe-core finds no WCAG 2.1 A or
AA violation (contrast, names, landmarks...). Then a full-page screenshot goes
to artifacts/screenshots/ (ignored by git; SIMDESK_ARTIFACTS_DIR moves it), for people to look at.
"""

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from djmoney.money import Money
from playwright.sync_api import Browser, Page

from accounts.services import user_set_currency, user_set_language
from catalog.models import Plan, PlanPrice, Region
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.browser.test_topup import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

ARTIFACTS = Path(os.environ.get("SIMDESK_ARTIFACTS_DIR", Path(__file__).parents[2] / "artifacts"))
SHOTS = ARTIFACTS / "screenshots"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{4,}")

PUBLIC_PAGES = {
    "home": "/",
    "destinations": "/destinations/",
    "country": "/countries/jp/",
    "region": "/regions/asia-shots/",
    "plan": "/plans/jp-shots-5gb/",
    "search": "/search/?q=ja",
    "devices": "/devices/?q=iphone",
    "help": "/help/",
    "card-topup": "/topup-card/",
}
CUSTOMER_PAGES = {
    "checkout": "/checkout/jp-shots-5gb/",
    "esims": "/esims/",
    "esim": "/esims/{iccid}/",
    "orders": "/orders/",
    "wallet": "/wallet/",
    "topup": "/wallet/topup/",
    "contact": "/help/contact/",
    "settings": "/me/settings/",
}

# Text a Chinese heading may keep in Latin letters: brand and plan-style tokens.
ALLOWED_LATIN = {"eSIM", "eSIMs", "Simdesk", "ICCID"}
# axe-core's WCAG 2.1 A and AA rules (contrast, names, labels, landmarks, language...).
AXE = Axe()
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
# The innermost elements reaching past the right edge: where a sideways scroll comes from.
WIDE_ELEMENTS = """() => {
    const edge = document.documentElement.clientWidth;
    return [...document.body.querySelectorAll('*')]
        .filter(el => el.getBoundingClientRect().right > edge + 1)
        .filter(el => ![...el.children].some(c => c.getBoundingClientRect().right > edge + 1))
        .slice(0, 3)
        .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
}"""


def _catalog() -> Plan:
    """Two Japan plans, an Asia plan and a Korea plan, priced in USD and CNY."""
    plans = [
        plan_for_sale(
            price="12.50",
            stock=3,
            code="jp-shots-5gb",
            name="Japan 5 GB",
            name_zh_hans="日本 5 GB",
            country="JP",
        ),
        plan_for_sale(
            price="19.00",
            stock=1,
            name="Japan 10 GB",
            name_zh_hans="日本 10 GB",
            country="JP",
            data_mb=10240,
            validity_days=15,
            network="5g",
        ),
        plan_for_sale(
            price="15.00",
            stock=1,
            name="Asia 3 GB",
            name_zh_hans="亚洲 3 GB",
            country="",
            data_mb=3072,
            validity_days=7,
            region=Region.objects.create(
                code="asia-shots",
                name="Asia (4)",
                name_zh_hans="亚洲4国",
                countries=["JP", "KR", "TH", "SG"],
            ),
        ),
        plan_for_sale(
            price="8.00",
            stock=1,
            name="Korea 3 GB",
            name_zh_hans="韩国 3 GB",
            country="KR",
            data_mb=3072,
            validity_days=7,
        ),
    ]
    for plan in plans:
        usd = plan.prices.get().price.amount
        PlanPrice.objects.create(plan=plan, price=Money(usd * 7, "CNY"))
    return plans[0]


def _faults(page: Page, language: str, width: str) -> list[str]:
    faults = []
    html_lang = page.locator("html").get_attribute("lang")
    if html_lang != language:
        faults.append(f"<html lang={html_lang}>")
    heading = page.locator("h1").first.inner_text()
    if language == "zh-hans":
        words = set(LATIN_WORD.findall(heading)) - ALLOWED_LATIN
        if not HAN.search(heading) or words:
            faults.append(f"untranslated heading {heading!r}")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 1:
        culprits = page.evaluate(WIDE_ELEMENTS)
        faults.append(f"{overflow}px wider than the screen at {width}: {culprits}")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => !['hidden', 'submit', 'button'].includes(el.type))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )
    if unlabelled:
        faults.append(f"fields without a label: {unlabelled}")
    for violation in AXE.run(page, options=AXE_OPTIONS).response["violations"]:
        targets = [node["target"] for node in violation["nodes"][:3]]
        faults.append(f"axe {violation['id']} ({violation['impact']}) at {width}: {targets}")
    return faults


def _shoot(page: Page, base: str, pages: dict[str, str], language: str, width: str) -> list[str]:
    """Screenshots of `pages`; returns what is wrong with them, one line per fault."""
    faults = []
    for name, path in pages.items():
        response = page.goto(base + path)
        if response is None or not response.ok:
            faults.append(f"{path}: answered {response and response.status}")
            continue
        page.screenshot(path=str(SHOTS / f"{name}-{language}-{width}.png"), full_page=True)
        faults += [f"{path}: {fault}" for fault in _faults(page, language, width)]
    return faults


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_key_pages_in_both_languages_at_phone_and_desktop_widths(
    browser: Browser, live_server, language: str
):
    SHOTS.mkdir(parents=True, exist_ok=True)
    plan = _catalog()
    currency = "CNY" if language == "zh-hans" else "USD"
    customer = funded_customer("60.00", email="shots@example.com")
    _order, profile = bought_esim(customer, plan)
    user_set_language(user=customer, language=language)
    user_set_currency(user=customer, currency=currency)
    customer_pages = {
        name: path.format(iccid=profile.iccid) for name, path in CUSTOMER_PAGES.items()
    }

    faults = []
    for width, viewport in WIDTHS.items():
        context = browser.new_context(viewport=viewport, locale="en-GB")
        context.add_cookies(
            [
                {"name": "simdesk_language", "value": language, "url": live_server.url},
                {"name": "simdesk_currency", "value": currency, "url": live_server.url},
            ]
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        faults += _shoot(page, live_server.url, PUBLIC_PAGES, language, width)
        sign_in(page, live_server, customer.email)
        faults += _shoot(page, live_server.url, customer_pages, language, width)
        context.close()

    assert not faults, "\n".join(faults)

    shots = sorted(SHOTS.glob(f"*-{language}-*.png"))
    assert len(shots) >= 2 * (len(PUBLIC_PAGES) + len(CUSTOMER_PAGES))
