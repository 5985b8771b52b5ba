"""The storefront's main journeys, walked end to end in a real browser: find a destination
(with and without JavaScript), pick and buy a plan, switch the language and the currency, check
a phone, ask for help, use the phone menu, and install a bought eSIM.

Each test asserts what the shopper sees and, where something is saved, the rows written.
"""

import re

import pytest
from django.contrib.auth.models import Permission
from djmoney.money import Money
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from billing.models import SupportRequest
from catalog.install import ios_install_url
from catalog.models import Plan, PlanPrice, Region
from catalog.services.devices import devices_load
from tests.billing.order_support import (
    bought_esim,
    funded_customer,
    plan_for_sale,
    reseller_staff_user,
)
from tests.browser.test_topup import UUID, sign_in
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _new_page(browser: Browser, viewport: dict[str, int], **options: object) -> Page:
    context = browser.new_context(locale="en-GB", viewport=viewport, **options)  # type: ignore[arg-type]
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def phone(browser: Browser):
    page = _new_page(browser, PHONE)
    yield page
    page.context.close()


@pytest.fixture
def desktop(browser: Browser):
    page = _new_page(browser, DESKTOP)
    yield page
    page.context.close()


def _japan_plans() -> dict[str, Plan]:
    """Three Japan plans, made out of price order, each priced in USD, CNY and HKD."""
    specs = [
        (
            "jp-30d-10gb",
            "19.00",
            "135.00",
            "148.00",
            30,
            10240,
            "Japan 10 GB 30 days",
            "日本 10GB 30天",
        ),
        ("jp-3d-1gb", "4.50", "32.00", "35.00", 3, 1024, "Japan 1 GB 3 days", "日本 1GB 3天"),
        ("jp-7d-3gb", "8.00", "57.00", "62.00", 7, 3072, "Japan 3 GB 7 days", "日本 3GB 7天"),
    ]
    plans = {}
    for code, usd, cny, hkd, days, megabytes, name, name_zh in specs:
        plan = plan_for_sale(
            price=usd,
            stock=2,
            code=code,
            name=name,
            name_zh_hans=name_zh,
            country="JP",
            validity_days=days,
            data_mb=megabytes,
            network=Plan.Network.NR,
            hotspot=True,
            activation_policy=Plan.ActivationPolicy.ON_FIRST_USE,
        )
        PlanPrice.objects.create(plan=plan, price=Money(cny, "CNY"))
        PlanPrice.objects.create(plan=plan, price=Money(hkd, "HKD"))
        plans[code] = plan
    return plans


def _card_codes(page: Page) -> list[str]:
    cards = page.get_by_test_id("own-plans").get_by_test_id("plan-card")
    return [cards.nth(i).get_attribute("data-plan") or "" for i in range(cards.count())]


# --- 1. Find Japan on a phone, pick a plan, sign in to buy it --------------------------------


def test_a_phone_visitor_finds_japan_picks_a_plan_and_reaches_checkout(phone: Page, live_server):
    _japan_plans()
    customer = UserFactory(email="traveller@example.com")
    page = phone

    page.goto(f"{live_server.url}/")
    box = page.get_by_label("Where are you going?")
    box.press_sequentially("日本")
    suggestions = page.get_by_role("listbox", name="Suggested destinations")
    expect(suggestions).to_be_visible()
    japan = suggestions.get_by_role("option").first
    expect(japan).to_contain_text("日本")
    expect(japan).to_contain_text("Japan")
    expect(japan).to_contain_text("from 4.50 USD")
    expect(box).to_have_attribute("aria-expanded", "true")

    box.press("ArrowDown")
    expect(japan).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", japan.get_attribute("id") or "")
    box.press("Enter")
    page.wait_for_url(f"{live_server.url}/countries/jp/")
    expect(page.get_by_test_id("destination-name")).to_have_text("Japan")

    # Cheapest first, each card with its facts and its price.
    assert _card_codes(page) == ["jp-3d-1gb", "jp-7d-3gb", "jp-30d-10gb"]
    prices = page.get_by_test_id("own-plans").get_by_test_id("plan-card-price")
    expect(prices).to_have_text(
        ["Price: 4.50 USD", "Price: 8.00 USD", "Price: 19.00 USD"], use_inner_text=False
    )
    first = page.locator('[data-plan="jp-3d-1gb"]')
    expect(first).to_contain_text("1 GB")
    expect(first).to_contain_text("3 days")
    expect(first).to_contain_text("5G")
    expect(first).to_contain_text("Starts when you first connect")

    # Only the plans of up to 7 days.
    page.get_by_label("Days").select_option(label="Up to 7 days")
    page.get_by_role("button", name="Show plans").click()
    page.wait_for_url(re.compile(r"/countries/jp/\?days=le7"))
    assert _card_codes(page) == ["jp-3d-1gb", "jp-7d-3gb"]
    expect(page.get_by_label("Days")).to_have_value("le7")
    expect(page.get_by_role("link", name="Show all plans")).to_be_visible()

    page.get_by_role("link", name="Japan 3 GB 7 days").click()
    page.wait_for_url(f"{live_server.url}/plans/jp-7d-3gb/?currency=USD")
    expect(page.locator("h1")).to_have_text("Japan 3 GB 7 days")
    expect(page.get_by_test_id("plan-price")).to_have_text("8.00 USD")
    expect(page.get_by_test_id("plan-countries")).to_have_text("Japan")
    devices_link = page.get_by_role("link", name="Check your phone supports eSIM")
    expect(devices_link).to_have_attribute("href", "/devices/")

    # Buying asks to sign in first, then comes back to this plan.
    page.get_by_role("link", name="Buy", exact=True).click()
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    page.locator("input[name=login]").fill(customer.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit]"
    ).click()
    page.wait_for_url(f"{live_server.url}/checkout/jp-7d-3gb/?currency=USD")
    expect(page.locator("h1")).to_have_text("Buy Japan 3 GB 7 days")
    expect(page.get_by_test_id("destination")).to_have_text("This eSIM works in: Japan")
    expect(page.get_by_test_id("summary-total")).to_have_text("8.00 USD")


# --- 2. Search without JavaScript -------------------------------------------------------------


def test_without_javascript_the_search_lists_regions_and_a_region_lists_its_countries(
    browser: Browser, live_server
):
    europe = Region.objects.create(
        code="europe", name="Europe", name_zh_hans="欧洲", countries=["FR", "DE", "IT"]
    )
    plus = Region.objects.create(
        code="europe-plus", name="Europe Plus", name_zh_hans="欧洲加", countries=["FR", "GB"]
    )
    plan_for_sale(price="15.00", code="eu-5gb", name="Europe 5 GB", country="", region=europe)
    plan_for_sale(price="21.00", code="eup-5gb", name="Europe Plus 5 GB", country="", region=plus)
    page = _new_page(browser, DESKTOP, java_script_enabled=False)

    page.goto(f"{live_server.url}/")
    box = page.get_by_label("Where are you going?")
    box.fill("Europe")
    box.press("Enter")
    page.wait_for_url(f"{live_server.url}/search/?q=Europe")
    results = page.get_by_test_id("search-results").get_by_role("link")
    expect(results).to_have_count(2)
    expect(results.first).to_contain_text("Europe")
    expect(results.first).to_contain_text("欧洲")
    expect(results.first).to_contain_text("Region · from 15.00 USD")

    results.first.click()
    page.wait_for_url(f"{live_server.url}/regions/europe/")
    expect(page.get_by_test_id("destination-name")).to_have_text("Europe")
    expect(page.get_by_role("heading", name="Covers 3 countries")).to_be_visible()
    covered = page.get_by_test_id("covered-countries").get_by_role("link")
    expect(covered).to_have_text(["France", "Germany", "Italy"])
    expect(covered.first).to_have_attribute("href", "/countries/fr/")
    assert _card_codes(page) == ["eu-5gb"]
    page.context.close()


# --- 3. Currency and language ---------------------------------------------------------------


def test_currency_and_language_from_the_header_and_from_the_settings(
    browser: Browser, desktop: Page, live_server
):
    _japan_plans()
    page = desktop

    page.goto(f"{live_server.url}/countries/jp/")
    header = page.locator("header.site-header")
    header.get_by_text("English · USD").click()
    header.get_by_role("link", name="CNY", exact=True).click()
    page.wait_for_url(f"{live_server.url}/countries/jp/")
    expect(page.locator(".lead")).to_contain_text("Prices in CNY.")
    prices = page.get_by_test_id("own-plans").get_by_test_id("plan-card-price")
    expect(prices).to_have_text(
        ["Price: 32.00 CNY", "Price: 57.00 CNY", "Price: 135.00 CNY"], use_inner_text=False
    )

    header.locator(".prefs-toggle").click()
    header.get_by_role("link", name="简体中文").click()
    page.wait_for_url(f"{live_server.url}/countries/jp/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("destination-name")).to_have_text("日本")
    titles = page.get_by_test_id("own-plans").locator(".plan-card-title")
    expect(titles).to_have_text(["日本 1GB 3天", "日本 3GB 7天", "日本 10GB 30天"])
    expect(prices.first).to_contain_text("32.00 CNY")  # the currency is kept
    # The card's link carries the currency (the plan page itself does not read the cookie:
    # see test_the_plan_page_follows_the_chosen_currency below).
    titles.nth(1).get_by_role("link").click()
    page.wait_for_url(f"{live_server.url}/plans/jp-7d-3gb/?currency=CNY")
    expect(page.locator("h1")).to_have_text("日本 3GB 7天")
    expect(page.get_by_test_id("plan-countries")).to_have_text("日本")
    expect(page.get_by_test_id("plan-price")).to_have_text("57.00 CNY")

    # A signed-in customer saves the choice on the profile, on a fresh device.
    customer = UserFactory(email="settings@example.com")
    account = _new_page(browser, DESKTOP)
    sign_in(account, live_server, customer.email)
    account.goto(f"{live_server.url}/me/settings/")
    account.locator("select#id_language").select_option(label="简体中文")
    account.locator("select#id_currency").select_option("HKD")
    expect(account.locator("label[for=id_language]")).to_have_text("Language")
    account.locator("form.settings-form button[type=submit]").click()
    account.wait_for_url(f"{live_server.url}/me/settings/")
    expect(account.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(account.locator(".messages")).to_be_visible()
    customer.refresh_from_db()
    assert (customer.preferred_language, customer.preferred_currency) == ("zh-hans", "HKD")

    account.goto(f"{live_server.url}/countries/jp/")
    expect(account.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(account.get_by_test_id("destination-name")).to_have_text("日本")
    expect(
        account.get_by_test_id("own-plans").get_by_test_id("plan-card-price").first
    ).to_contain_text("35.00 HKD")
    account.context.close()
    # The profile, not the cookie, carries it: the same account elsewhere gets it too.
    other = _new_page(browser, DESKTOP)
    sign_in(other, live_server, customer.email)
    other.goto(f"{live_server.url}/countries/jp/")
    expect(other.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(
        other.get_by_test_id("own-plans").get_by_test_id("plan-card-price").first
    ).to_contain_text("35.00 HKD")
    other.context.close()


# --- 4. Device checker ----------------------------------------------------------------------


def _check_device(page: Page, query: str) -> None:
    box = page.get_by_role("searchbox", name=re.compile("phone|model|device", re.IGNORECASE))
    box.fill(query)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/devices/\?q="))


def test_the_device_checker_answers_yes_no_varies_and_unknown(desktop: Page, live_server):
    devices_load()
    page = desktop
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Device checker").click()
    page.wait_for_url(f"{live_server.url}/devices/")
    expect(page.locator("h1")).to_have_text("Does my device support eSIM?")

    _check_device(page, "pixel 8")
    first = page.get_by_test_id("device-result").first
    expect(first.locator(".device-name")).to_have_text("Google Pixel 8")
    expect(first).to_contain_text("Supports eSIM")
    expect(first).to_contain_text("Check that it is not carrier-locked.")

    # catalog/data/devices.csv lists the iPhone 15 as "varies": no eSIM on the models sold in
    # mainland China, Hong Kong and Macao.
    _check_device(page, "iphone 15")
    first = page.get_by_test_id("device-result").first
    expect(first.locator(".device-name")).to_have_text("Apple iPhone 15")
    expect(first).to_contain_text(
        "Check that it is not carrier-locked and that your model has eSIM"
    )
    expect(first).to_contain_text("mainland China")

    _check_device(page, "iphone 8")
    first = page.get_by_test_id("device-result").first
    expect(first.locator(".device-name")).to_have_text("Apple iPhone 8")
    expect(first).to_contain_text("Does not support eSIM")
    expect(first).not_to_contain_text("Supports eSIM")

    _check_device(page, "Nokia 3310")
    expect(page.get_by_test_id("device-result")).to_have_count(0)
    expect(page.get_by_test_id("device-none")).to_contain_text("This model is not on our list yet.")
    advice = page.locator("#check-on-phone")
    expect(advice).to_contain_text("*#06#")
    expect(advice).to_contain_text("EID")


# --- 5. Help and a support request ------------------------------------------------------------


def test_a_customer_asks_about_an_order_and_staff_see_the_request(
    browser: Browser, desktop: Page, live_server, mailoutbox, client
):
    customer = funded_customer("20.00", email="asker@example.com", full_name="Wang Fang")
    order, _profile = bought_esim(customer, plan_for_sale(price="9.00", name="Japan 5 GB"))
    mailoutbox.clear()
    page = desktop
    sign_in(page, live_server, customer.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Help").click()
    page.wait_for_url(f"{live_server.url}/help/")
    page.locator("#contact").get_by_role("link", name="Contact us").click()
    page.wait_for_url(f"{live_server.url}/help/contact/")
    expect(page.locator("h1")).to_have_text("Contact us")
    expect(page.get_by_label("Your email address")).to_have_count(0)  # we know who writes

    about = page.get_by_label("Related order or payment (optional)")
    about.select_option(f"order:{order.public_id}")
    expect(about.locator("option:checked")).to_contain_text(order.number)
    page.get_by_label("Topic").select_option(index=1)
    page.get_by_label("Subject").fill("QR code does not scan")
    page.get_by_label("Your message").fill("My phone says the code is not valid.")
    page.get_by_role("button", name="Send").click()

    page.wait_for_url(re.compile(rf"/help/requests/{UUID}/$"))
    support_request = SupportRequest.objects.get()
    assert support_request.customer == customer
    assert support_request.order == order
    assert support_request.payment is None
    assert support_request.email == customer.email
    assert support_request.subject == "QR code does not scan"
    assert support_request.status == SupportRequest.Status.OPEN
    assert page.url.endswith(f"/help/requests/{support_request.public_id}/")
    expect(page.locator("h1")).to_have_text(f"Request {support_request.number}")
    expect(page.locator(".messages")).to_contain_text(support_request.number)
    expect(page.locator(".support-facts")).to_contain_text(order.number)

    (message,) = mailoutbox
    assert message.to == [customer.email]
    assert support_request.number in message.subject
    assert order.number in message.body

    page.get_by_role("link", name="All your requests").click()
    page.wait_for_url(f"{live_server.url}/help/requests/")
    row = page.get_by_test_id("support-request-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(support_request.number)
    expect(row).to_contain_text("QR code does not scan")

    # Reseller staff find it in the staff console (the role's permissions are granted by a data
    # migration, which a transactional test's flush removes: grant them again).
    staff = reseller_staff_user(email="clerk@example.com")
    group = staff.groups.get()
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing",
            codename__in=["view_supportrequest", "change_supportrequest"],
        )
    )
    console = _new_page(browser, DESKTOP)
    sign_in(console, live_server, staff.email)
    console.get_by_role("link", name="Staff console").click()
    console.wait_for_url(f"{live_server.url}/admin/")
    console.goto(f"{live_server.url}/admin/billing/supportrequest/")
    result = console.locator("#result_list")
    expect(result).to_contain_text(support_request.number)
    expect(result).to_contain_text("QR code does not scan")
    expect(result).to_contain_text(order.number)
    console.context.close()

    # The same through the test client, as a cross-check of the permission.
    client.force_login(User.objects.get(pk=staff.pk))
    listing = client.get("/admin/billing/supportrequest/", {"q": customer.email})
    assert listing.status_code == 200
    assert support_request.number in listing.content.decode()


# --- 6. The phone menu ----------------------------------------------------------------------


def test_the_phone_menu_opens_from_the_keyboard(phone: Page, desktop: Page, live_server):
    page = phone
    page.goto(f"{live_server.url}/")
    toggle = page.locator("summary.menu-toggle")
    main_nav = page.get_by_role("navigation", name="Main")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_text("Menu")
    expect(main_nav.get_by_role("link", name="Destinations")).to_be_hidden()

    toggle.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details.site-menu")).to_have_attribute("open", "")
    for name in ("Destinations", "Top up a card", "Help", "Device checker"):
        expect(main_nav.get_by_role("link", name=name)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Your account").get_by_role("link", name="Sign in")
    ).to_be_visible()

    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Destinations"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Top up a card"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/topup-card/")

    # On a desktop there is no Menu button: the links are in the header row.
    desktop.goto(f"{live_server.url}/")
    expect(desktop.locator("summary.menu-toggle")).to_be_hidden()
    expect(
        desktop.get_by_role("navigation", name="Main").get_by_role("link", name="Destinations")
    ).to_be_visible()


# --- 7. A bought eSIM at phone width ----------------------------------------------------------


def test_my_esim_on_a_phone_shows_everything_needed_to_install_it(browser: Browser, live_server):
    customer = funded_customer("30.00", email="installer@example.com")
    plan = plan_for_sale(
        price="12.50",
        code="jp-5gb",
        name="Japan 5 GB",
        country="JP",
        activation_policy=Plan.ActivationPolicy.ON_FIRST_USE,
    )
    _order, profile = bought_esim(customer, plan)
    page = _new_page(browser, PHONE)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server, customer.email)

    page.locator("summary.menu-toggle").click()
    page.get_by_role("navigation", name="Your account").get_by_role("link", name="My eSIMs").click()
    page.wait_for_url(f"{live_server.url}/esims/")
    row = page.get_by_role("row").filter(has_text=profile.iccid)
    row.get_by_role("link", name="Japan 5 GB").click()
    page.wait_for_url(f"{live_server.url}/esims/{profile.iccid}/")
    expect(page.locator("h1")).to_have_text("Japan 5 GB")
    expect(page.get_by_test_id("esim-iccid")).to_have_text(profile.iccid)

    qr = page.get_by_test_id("esim-qr")
    expect(qr).to_be_visible()
    expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
    box = qr.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]

    code = page.get_by_test_id("activation-code")
    expect(code).to_have_text(profile.activation_code)
    copy = page.locator("button[data-copy=activation-code]")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == profile.activation_code

    expect(page.get_by_test_id("smdp-address")).to_have_text(profile.smdp_address)
    expect(page.get_by_test_id("matching-id")).to_have_text(profile.matching_id)
    ios = page.get_by_test_id("ios-install")
    expect(ios).to_have_text("Install on this iPhone (one tap)")
    expect(ios).to_have_attribute("href", ios_install_url(profile.activation_code))
    expect(page.get_by_test_id("validity-start")).to_contain_text("Starts when you first connect")

    rows = page.get_by_test_id("bundle-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Japan 5 GB")

    expect(page.get_by_test_id("refund-policy")).to_be_visible()
    refund_form = page.locator("form.refund-form")
    expect(refund_form).to_be_visible()
    expect(refund_form.get_by_role("button", name="Request a refund")).to_be_visible()
    reason = refund_form.locator("textarea, input:not([type=hidden]), select").first
    expect(reason).to_have_attribute("id", re.compile(".+"))
    label_for = refund_form.locator(f"label[for='{reason.get_attribute('id')}']")
    expect(label_for).to_have_count(1)

    # Nothing is wider than the phone's screen.
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    page.context.close()
