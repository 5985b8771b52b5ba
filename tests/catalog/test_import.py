"""CSV import of eSIM profiles: preview, all-or-nothing write, the admin page."""

import csv
import io
import logging
import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse
from djmoney.money import Money

from accounts.roles import FINANCE, RESELLER_STAFF
from catalog.admin_import import SESSION_KEY
from catalog.importing import (
    ACTIVATION_CODE_DUPLICATE,
    CONFIRMATION_CODE_MISSING,
    COST_INVALID,
    CURRENCY_UNKNOWN,
    FILE_NOT_UTF8,
    HEADER_ACTIVATION_COLUMNS,
    HEADER_MISSING_COLUMN,
    ICCID_DUPLICATE,
    ICCID_IN_STOCK,
    MAX_LISTED_PROBLEMS,
    PLAN_TOPUP,
    PLAN_UNKNOWN,
    ProfileImportRejected,
    profiles_import,
    profiles_import_preview,
)
from catalog.models import EsimProfile, ImportBatch, Plan
from catalog.validation import (
    ACTIVATION_CODE_FORMAT,
    ICCID_WRONG_PREFIX,
    LUHN_WARNING,
    MATCHING_ID_INVALID,
)
from tests.catalog.factories import PlanFactory, iccid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SECRET = "K7Q2-SECRET-9XZ4"  # a matching ID that must never show up in a message or log
HEADER = ["iccid", "activation_code", "confirmation_code", "plan", "cost"]


def to_csv(header: list[str], rows: list[list[str]], *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + out.getvalue().encode()


def row(n: int, plan: Plan, *, cost: str = "3.20", code: str = "") -> list[str]:
    return [iccid(n), code or f"LPA:1$smdp.example.com$MID-{n:08d}", "", plan.code, cost]


def clean_file(plan: Plan, count: int, start: int = 0) -> bytes:
    return to_csv(HEADER, [row(n, plan) for n in range(start, start + count)])


def nothing_written() -> bool:
    return not EsimProfile.objects.exists() and not ImportBatch.objects.exists()


def rejection(data: bytes, actor) -> ProfileImportRejected:
    with pytest.raises(ProfileImportRejected) as caught:
        profiles_import(data=data, file_name="stock.csv", actor=actor)
    return caught.value


@pytest.fixture
def plan() -> Plan:
    return PlanFactory(code="jp-5gb")


@pytest.fixture
def clerk():
    user = UserFactory(is_staff=True, email="clerk@example.com")
    user.groups.add(Group.objects.get(name=RESELLER_STAFF))
    return user


# --- The service ---------------------------------------------------------------------------
def test_clean_file_is_imported_as_one_recorded_batch_of_available_stock(plan, clerk):
    other = PlanFactory(code="eu-10gb", wholesale_cost=Money("5.00", "EUR"))
    data = to_csv(
        [*HEADER, "currency"],
        [
            [
                iccid(1),
                f"LPA:1$SMDP.Example.com${SECRET}$1.3.6.1.4.1.31746$1",
                "4711",
                "jp-5gb",
                "3.25",
                "",
            ],
            [iccid(2), "LPA:1$smdp.example.com$MID-2", "", "jp-5gb", "3.25", "cny"],
            [iccid(3), "1$rsp.example.org$MID-3", "", "eu-10gb", "4", ""],
        ],
    )

    batch = profiles_import(data=data, file_name="supplier-2026-05.csv", actor=clerk)

    batch.refresh_from_db()
    assert (batch.file_name, batch.imported_by, batch.rows) == ("supplier-2026-05.csv", clerk, 3)
    assert batch.imported_at is not None
    first, second, third = EsimProfile.objects.order_by("iccid")
    assert first.iccid == iccid(1)
    assert first.smdp_address == "SMDP.Example.com"
    assert first.matching_id == SECRET
    assert first.activation_oid == "1.3.6.1.4.1.31746"
    assert first.confirmation_code == "4711"
    assert first.activation_code == f"LPA:1$SMDP.Example.com${SECRET}$1.3.6.1.4.1.31746$1"
    assert first.wholesale_cost == Money("3.25", "USD")  # the plan's currency by default
    assert second.wholesale_cost == Money("3.25", "CNY")
    assert (second.confirmation_code, second.activation_oid) == ("", "")
    assert third.plan == other and third.wholesale_cost == Money("4.00", "EUR")
    for profile in (first, second, third):
        assert profile.status == EsimProfile.Status.AVAILABLE
        assert profile.batch == batch
        assert profile.owner is None
    assert (first.plan, second.plan) == (plan, plan)


def test_preview_counts_per_plan_and_writes_nothing(plan):
    other = PlanFactory(code="eu-10gb", name="Europe 10 GB", wholesale_cost=Money("5", "EUR"))
    rows = [row(n, plan, cost="1.10") for n in range(3)]
    rows.append([iccid(9), "LPA:1$smdp.example.com$MID-9", "", other.code, "2.50"])

    preview = profiles_import_preview(data=to_csv(HEADER, rows))

    assert preview.ok
    assert (preview.rows, preview.valid_rows, preview.error_count) == (4, 4, 0)
    assert [(p.code, p.rows, p.cost) for p in preview.plans] == [
        ("eu-10gb", 1, Money("2.50", "EUR")),
        ("jp-5gb", 3, Money("3.30", "USD")),
    ]
    assert preview.totals == [Money("2.50", "EUR"), Money("3.30", "USD")]
    assert nothing_written()


def test_without_a_cost_column_profiles_cost_their_plans_wholesale_cost(plan, clerk):
    data = to_csv(["iccid", "activation_code", "plan"], [[*row(1, plan)[:2], plan.code]])

    profiles_import(data=data, file_name="stock.csv", actor=clerk)

    assert EsimProfile.objects.get().wholesale_cost == Money("3.20", "USD")


def test_smdp_address_and_matching_id_columns_instead_of_an_activation_code(plan, clerk):
    data = to_csv(
        ["iccid", "smdp_address", "matching_id", "confirmation_code", "plan", "cost"],
        [
            [iccid(1), " smdp.example.com ", SECRET, "0000", plan.code, "3.20"],
            [iccid(2), "smdp.example.com", "MID-2", "", plan.code, "3.20"],
        ],
    )

    profiles_import(data=data, file_name="stock.csv", actor=clerk)

    first, second = EsimProfile.objects.order_by("iccid")
    assert (first.smdp_address, first.matching_id, first.confirmation_code) == (
        "smdp.example.com",
        SECRET,
        "0000",
    )
    assert first.activation_code == f"LPA:1$smdp.example.com${SECRET}$$1"
    assert second.activation_code == "LPA:1$smdp.example.com$MID-2"


def test_utf8_bom_uppercase_and_padded_headers_and_spaced_iccids(plan, clerk):
    spaced = iccid(1)
    spaced = f"{spaced[:4]} {spaced[4:10]}-{spaced[10:]}"
    data = to_csv(
        [" ICCID", "Activation Code ", "PLAN", "Cost"],
        [[spaced, "LPA:1$smdp.example.com$MID-1", plan.code, "3.20"]],
        bom=True,
    )

    profiles_import(data=data, file_name="stock.csv", actor=clerk)

    assert EsimProfile.objects.get().iccid == iccid(1)


def test_semicolon_separated_file_from_a_european_spreadsheet(plan, clerk):
    data = f"iccid;activation_code;plan\n{iccid(1)};LPA:1$smdp.example.com$M1;{plan.code}\n"

    profiles_import(data=data.encode(), file_name="stock.csv", actor=clerk)

    assert EsimProfile.objects.get().iccid == iccid(1)


def test_wrong_luhn_digit_is_a_warning_and_does_not_block(plan, clerk):
    good = iccid(1)
    mistyped = good[:-1] + str((int(good[-1]) + 1) % 10)
    data = to_csv(HEADER, [row(0, plan), [mistyped, *row(1, plan)[1:]]])

    preview = profiles_import_preview(data=data)

    assert preview.ok
    assert [(w.line, w.column, w.message) for w in preview.warnings] == [
        (3, "iccid", str(LUHN_WARNING))
    ]
    profiles_import(data=data, file_name="stock.csv", actor=clerk)
    assert EsimProfile.objects.filter(iccid=mistyped).exists()


def test_blank_lines_are_skipped_but_keep_the_spreadsheet_line_numbers(plan, clerk):
    data = to_csv(HEADER, [row(0, plan), [], ["", "", "", "", ""], row(0, plan)])

    rejected = rejection(data, clerk)

    assert rejected.preview.rows == 2
    assert [(e.line, e.code) for e in rejected.preview.errors] == [(5, "duplicate")]


@pytest.mark.parametrize(
    ("bad_row", "column", "message"),
    [
        pytest.param(
            lambda p: ["9986012345678901234", "LPA:1$smdp.example.com$M", "", p.code, "1"],
            "iccid",
            ICCID_WRONG_PREFIX,
            id="bad-iccid",
        ),
        pytest.param(
            lambda p: [iccid(7), "smdp.example.com/M", "", p.code, "1"],
            "activation_code",
            ACTIVATION_CODE_FORMAT,
            id="bad-activation-code",
        ),
        pytest.param(
            lambda p: [iccid(7), "LPA:1$smdp.example.com$M$$1", "", p.code, "1"],
            "confirmation_code",
            CONFIRMATION_CODE_MISSING,
            id="missing-confirmation-code",
        ),
        pytest.param(
            lambda p: [iccid(7), "LPA:1$smdp.example.com$M", "", "xx-none", "1"],
            "plan",
            PLAN_UNKNOWN % {"code": "xx-none"},
            id="unknown-plan",
        ),
        pytest.param(
            lambda p: [iccid(7), "LPA:1$smdp.example.com$M", "", p.code, "3,20"],
            "cost",
            COST_INVALID,
            id="bad-cost",
        ),
    ],
)
def test_each_problem_is_reported_on_its_line_and_nothing_is_written(
    plan, clerk, bad_row, column, message
):
    rows = [row(n, plan) for n in range(4)]
    rows.insert(2, bad_row(plan))  # line 4: header, two good rows, then this one

    preview = profiles_import_preview(data=to_csv(HEADER, rows))
    rejected = rejection(to_csv(HEADER, rows), clerk)

    assert not preview.ok
    expected = [(4, column, str(message))]
    assert [(e.line, e.column, e.message) for e in preview.errors] == expected
    assert [(e.line, e.column, e.message) for e in rejected.preview.errors] == expected
    assert (rejected.preview.rows, rejected.preview.error_rows) == (5, 1)
    assert nothing_written()


def test_duplicate_inside_the_file_names_both_lines(plan, clerk):
    rows = [row(n, plan) for n in range(5)]
    rows.append([iccid(1), "LPA:1$smdp.example.com$OTHER", "", plan.code, "1"])  # line 7

    rejected = rejection(to_csv(HEADER, rows), clerk)

    assert [(e.line, e.column, e.message) for e in rejected.preview.errors] == [
        (7, "iccid", str(ICCID_DUPLICATE % {"line": 3}))
    ]
    assert "line 3" in rejected.preview.errors[0].message
    assert nothing_written()


def test_same_activation_code_twice_in_the_file_is_an_error(plan, clerk):
    rows = [row(1, plan, code="LPA:1$smdp.example.com$SAME"), row(2, plan)]
    rows.append(row(3, plan, code="LPA:1$SMDP.example.com$SAME"))  # host names ignore case

    rejected = rejection(to_csv(HEADER, rows), clerk)

    assert [(e.line, e.message) for e in rejected.preview.errors] == [
        (4, str(ACTIVATION_CODE_DUPLICATE % {"line": 2}))
    ]


def test_iccid_already_in_stock_is_reported_and_nothing_is_written(plan, clerk):
    profiles_import(data=clean_file(plan, 2), file_name="first.csv", actor=clerk)
    data = to_csv(HEADER, [row(5, plan), row(1, plan), row(6, plan)])

    rejected = rejection(data, clerk)

    assert [(e.line, e.column, e.message) for e in rejected.preview.errors] == [
        (3, "iccid", str(ICCID_IN_STOCK))
    ]
    assert EsimProfile.objects.count() == 2
    assert ImportBatch.objects.count() == 1


def test_iccid_of_a_sold_profile_is_also_already_in_stock(plan, clerk):
    profiles_import(data=clean_file(plan, 1), file_name="first.csv", actor=clerk)
    EsimProfile.objects.update(status=EsimProfile.Status.VOID)

    rejected = rejection(clean_file(plan, 1), clerk)

    assert rejected.preview.error_codes == {"in_stock": 1}


def test_top_up_plans_get_no_profiles(plan, clerk):
    PlanFactory(code="jp-topup-1gb", kind=Plan.Kind.TOPUP)
    data = to_csv(HEADER, [[iccid(1), "LPA:1$smdp.example.com$M", "", "jp-topup-1gb", "1"]])

    rejected = rejection(data, clerk)

    assert rejected.preview.errors[0].message == str(PLAN_TOPUP % {"code": "jp-topup-1gb"})


def test_currency_must_be_one_the_shop_knows(plan, clerk):
    data = to_csv([*HEADER, "currency"], [[*row(1, plan), "XYZ"]])

    rejected = rejection(data, clerk)

    [error] = rejected.preview.errors
    assert (error.line, error.column) == (2, "currency")
    assert error.message.startswith(str(CURRENCY_UNKNOWN).split("“")[0])
    assert "XYZ" in error.message


@pytest.mark.parametrize(
    ("cost", "code"),
    [("-1", "cost"), ("1.234", "cost"), ("NaN", "cost"), ("", "cost"), ("10000000000", "cost")],
)
def test_bad_costs(plan, clerk, cost, code):
    rejected = rejection(to_csv(HEADER, [row(1, plan, cost=cost)]), clerk)

    assert [(e.line, e.column, e.code) for e in rejected.preview.errors] == [(2, "cost", code)]


def test_every_problem_of_every_row_is_listed_in_line_order(plan, clerk):
    rows = [
        ["89", "nonsense", "", "nope", "x"],  # line 2: four problems
        row(1, plan),
        ["", "", "", "", ""],  # blank: skipped
        [iccid(2), "LPA:1$smdp.example.com$M2", "", "", "1"],  # line 5: no plan
    ]

    rejected = rejection(to_csv(HEADER, rows), clerk)

    assert [(e.line, e.column) for e in rejected.preview.errors] == [
        (2, "iccid"),
        (2, "activation_code"),
        (2, "plan"),
        (5, "plan"),
    ]
    assert (rejected.preview.rows, rejected.preview.error_rows) == (3, 2)


def test_header_problems_stop_before_the_rows(plan, clerk):
    data = to_csv(["iccid", "cost"], [[iccid(1), "1"]])

    rejected = rejection(data, clerk)

    assert [(e.line, e.message) for e in rejected.preview.errors] == [
        (1, str(HEADER_MISSING_COLUMN % {"column": "plan"})),
        (1, str(HEADER_ACTIVATION_COLUMNS)),
    ]
    assert rejected.preview.rows == 0


def test_both_ways_of_giving_the_activation_code_at_once_is_refused(plan, clerk):
    data = to_csv(
        ["iccid", "activation_code", "smdp_address", "matching_id", "plan"],
        [[iccid(1), "LPA:1$a.example.com$M", "a.example.com", "M", plan.code]],
    )

    assert rejection(data, clerk).preview.errors[0].message == str(HEADER_ACTIVATION_COLUMNS)


def test_unused_columns_are_a_warning(plan, clerk):
    data = to_csv([*HEADER, "supplier_ref"], [[*row(1, plan), "PO-17"]])

    preview = profiles_import_preview(data=data)

    assert preview.ok
    assert [(w.line, w.column) for w in preview.warnings] == [(1, "supplier_ref")]


def test_empty_and_undecodable_files(clerk):
    assert rejection(b"", clerk).preview.error_codes == {"empty": 1}
    assert rejection(b"iccid,activation_code,plan\r\n", clerk).preview.error_codes == {"empty": 1}
    gbk = "iccid,activation_code,plan\n8986,码,jp\n".encode("gbk")
    assert [e.message for e in rejection(gbk, clerk).preview.errors] == [str(FILE_NOT_UTF8)]


def test_one_bad_row_in_a_good_file_writes_nothing_and_names_the_row(plan, clerk):
    rows = [row(n, plan) for n in range(500)]
    rows[321][0] = "89860123"  # line 323: too short

    rejected = rejection(to_csv(HEADER, rows), clerk)

    assert [(e.line, e.column, e.code) for e in rejected.preview.errors] == [
        (323, "iccid", "iccid")
    ]
    assert rejected.preview.valid_rows == 499
    assert str(rejected) == "The file has 1 error; nothing was imported."
    assert nothing_written()


def test_ten_thousand_rows_import_and_the_same_file_again_is_all_in_stock(plan, clerk):
    data = clean_file(plan, 10_000)

    batch = profiles_import(data=data, file_name="big.csv", actor=clerk)

    assert batch.rows == 10_000
    assert EsimProfile.objects.filter(batch=batch, status="available").count() == 10_000

    rejected = rejection(data, clerk)

    preview = rejected.preview
    assert (preview.rows, preview.error_rows, preview.error_count) == (10_000, 10_000, 10_000)
    assert preview.error_codes == {"in_stock": 10_000}
    # Listed up to the cap, in line order; the rest only counted.
    assert len(preview.errors) == MAX_LISTED_PROBLEMS
    assert preview.unlisted_errors == 10_000 - MAX_LISTED_PROBLEMS
    assert [e.line for e in preview.errors] == list(range(2, 2 + MAX_LISTED_PROBLEMS))
    assert {e.message for e in preview.errors} == {str(ICCID_IN_STOCK)}
    assert EsimProfile.objects.count() == 10_000
    assert ImportBatch.objects.count() == 1


def test_no_message_log_or_repr_contains_a_secret(plan, clerk, caplog):
    rows = [
        ["123", f"LPA:1$smdp.example.com${SECRET}", "C0NF1RM", plan.code, "1"],
        [iccid(1), f"LPA:1$smdp.example.com${SECRET}_!", "C0NF1RM", plan.code, "1"],
        [iccid(2), f"LPA:1$smdp.example.com${SECRET}$$1", "", plan.code, "1"],
        [iccid(3), f"LPA:1$smdp.example.com${SECRET}", "C0NF1RM", plan.code, "1"],
        [iccid(4), f"LPA:1$smdp.example.com${SECRET * 20}", "C0NF1RM" * 10, plan.code, "1"],
        [iccid(5), f"LPA:1$smdp.example.com${SECRET}", "C0NF1RM", "no-such-plan", "1"],
    ]
    caplog.set_level(logging.DEBUG)

    rejected = rejection(to_csv(HEADER, rows), clerk)

    preview = rejected.preview
    assert preview.error_count >= 6
    assert str(MATCHING_ID_INVALID) in {e.message for e in preview.errors}
    texts = [e.message for e in preview.errors + preview.warnings]
    texts += [str(rejected), repr(preview), caplog.text]
    for text in texts:
        assert SECRET not in text
        assert "C0NF1RM" not in text


@pytest.mark.django_db(transaction=True)
def test_losing_a_race_with_another_import_is_a_clean_rejection(caplog):
    """Another import commits one of our ICCIDs between our check and our write."""
    plan = PlanFactory(code="jp-5gb")
    clerk = UserFactory(is_staff=True)
    data = clean_file(plan, 3)
    other_holds_row = threading.Event()
    release_other = threading.Event()
    outcome: dict[str, BaseException] = {}

    def other_import() -> None:
        try:
            with transaction.atomic():
                EsimProfile.objects.create(
                    iccid=iccid(1),
                    smdp_address="smdp.example.com",
                    matching_id="OTHER",
                    plan=plan,
                    wholesale_cost=Money("1", "USD"),
                )
                other_holds_row.set()
                release_other.wait(20)
        finally:
            connection.close()

    def our_import() -> None:
        try:
            profiles_import(data=data, file_name="stock.csv", actor=clerk)
        except BaseException as exc:  # recorded for the assertions below
            outcome["exception"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=other_import)
    other.start()
    assert other_holds_row.wait(20)
    ours = threading.Thread(target=our_import)
    ours.start()
    # Our check cannot see the uncommitted row; our insert then waits on its unique index.
    deadline = time.monotonic() + 20
    while not _someone_waits_on_a_lock():
        assert time.monotonic() < deadline, "our import never reached the unique index"
        time.sleep(0.05)
    release_other.set()
    other.join(20)
    ours.join(20)

    rejected = outcome.get("exception")
    assert isinstance(rejected, ProfileImportRejected), rejected
    assert "lost a race" in caplog.text  # refused by the unique index, not by the first check
    assert [(e.line, e.message) for e in rejected.preview.errors] == [(3, str(ICCID_IN_STOCK))]
    assert list(EsimProfile.objects.values_list("matching_id", flat=True)) == ["OTHER"]
    assert not ImportBatch.objects.exists()


def _someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return bool(cursor.fetchone()[0])


# --- The admin page -------------------------------------------------------------------------
IMPORT_URL = "/admin/catalog/esimprofile/import/"


@pytest.fixture
def imports_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path / "imports"


def upload(client, data: bytes, name: str = "stock.csv"):
    file = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(IMPORT_URL, {"action": "preview", "file": file})


def test_the_import_page_has_its_admin_url():
    assert reverse("admin:catalog_esimprofile_import") == IMPORT_URL


def test_reseller_uploads_previews_and_confirms(client, clerk, plan, imports_dir):
    client.force_login(clerk)
    page = client.get(IMPORT_URL)
    assert page.status_code == 200
    assert "activation_code" in page.content.decode()  # the help lists the columns

    preview = upload(client, clean_file(plan, 3), "may.csv")

    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Confirm import of 3 profiles" in html
    assert "jp-5gb" in html
    assert nothing_written()
    token = preview.context["token"]
    assert [p.name for p in imports_dir.iterdir()] == [f"{token}.csv"]
    assert imports_dir.stat().st_mode & 0o077 == 0

    done = client.post(IMPORT_URL, {"action": "confirm", "token": token})

    batch = ImportBatch.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/admin/catalog/esimprofile/?batch__id__exact={batch.pk}"
    assert (batch.file_name, batch.imported_by, batch.rows) == ("may.csv", clerk, 3)
    assert EsimProfile.objects.filter(batch=batch).count() == 3
    assert list(imports_dir.iterdir()) == []
    assert SESSION_KEY not in client.session
    changelist = client.get(done["Location"])
    assert changelist.status_code == 200
    assert "Imported 3 eSIM profiles from “may.csv”." in changelist.content.decode()
    assert changelist.context["cl"].result_count == 3


def test_preview_lists_errors_and_offers_no_confirmation(client, clerk, plan, imports_dir):
    client.force_login(clerk)
    rows = [row(n, plan) for n in range(3)]
    rows[1][1] = f"LPA:1$smdp.example.com${SECRET}$$1"  # line 3: no confirmation code

    response = upload(client, to_csv(HEADER, rows))

    html = response.content.decode()
    assert response.status_code == 200
    assert str(CONFIRMATION_CODE_MISSING) in html
    assert "<td>3</td><td>confirmation_code</td>" in html
    assert 'name="action" value="confirm"' not in html
    assert SECRET not in html
    assert not imports_dir.exists() or list(imports_dir.iterdir()) == []
    assert nothing_written()


def test_huge_error_list_is_cut_with_a_count_of_the_rest(client, clerk, plan, imports_dir):
    client.force_login(clerk)
    rows = [[iccid(n), "nonsense", "", plan.code, "1"] for n in range(MAX_LISTED_PROBLEMS + 7)]

    html = upload(client, to_csv(HEADER, rows)).content.decode()

    assert html.count(str(ACTIVATION_CODE_FORMAT)) == MAX_LISTED_PROBLEMS
    assert "and 7 more errors not listed" in html


def test_confirm_reports_rows_that_went_into_stock_since_the_preview(
    client, clerk, plan, imports_dir
):
    client.force_login(clerk)
    preview = upload(client, clean_file(plan, 3))
    profiles_import(data=clean_file(plan, 1, start=2), file_name="other.csv", actor=clerk)

    response = client.post(IMPORT_URL, {"action": "confirm", "token": preview.context["token"]})

    assert response.status_code == 200
    assert [(e.line, e.code) for e in response.context["preview"].errors] == [(4, "in_stock")]
    assert str(ICCID_IN_STOCK) in response.content.decode()
    assert EsimProfile.objects.count() == 1
    assert list(imports_dir.iterdir()) == []


def test_confirm_without_the_previewed_file_imports_nothing(client, clerk, plan, imports_dir):
    client.force_login(clerk)
    upload(client, clean_file(plan, 2))

    response = client.post(IMPORT_URL, {"action": "confirm", "token": "../../etc/passwd"})

    assert response.status_code == 302
    assert response["Location"] == IMPORT_URL
    assert nothing_written()
    page = client.get(IMPORT_URL).content.decode()
    assert "This preview has expired" in page


def test_a_new_upload_replaces_the_waiting_one(client, clerk, plan, imports_dir):
    client.force_login(clerk)
    first = upload(client, clean_file(plan, 2)).context["token"]
    second = upload(client, clean_file(plan, 5)).context["token"]

    assert [p.name for p in imports_dir.iterdir()] == [f"{second}.csv"]
    assert client.post(IMPORT_URL, {"action": "confirm", "token": first}).status_code == 302
    assert nothing_written()
    client.post(IMPORT_URL, {"action": "confirm", "token": second})
    assert EsimProfile.objects.count() == 5


def test_upload_without_a_file_shows_the_form_error(client, clerk, imports_dir):
    client.force_login(clerk)

    response = client.post(IMPORT_URL, {"action": "preview"})

    assert response.status_code == 200
    assert response.context["form"].errors["file"]


@pytest.mark.parametrize("role", [FINANCE, None])
def test_staff_without_the_add_permission_get_403(client, plan, imports_dir, role):
    user = UserFactory(is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)

    assert client.get(IMPORT_URL).status_code == 403
    assert upload(client, clean_file(plan, 1)).status_code == 403
    assert client.post(IMPORT_URL, {"action": "confirm", "token": "x" * 32}).status_code == 403
    assert nothing_written()


def test_changelist_shows_the_import_button_to_those_who_may_import(client, clerk):
    finance = UserFactory(is_staff=True)
    finance.groups.add(Group.objects.get(name=FINANCE))

    client.force_login(clerk)
    assert IMPORT_URL in client.get("/admin/catalog/esimprofile/").content.decode()
    client.force_login(finance)
    page = client.get("/admin/catalog/esimprofile/")
    assert page.status_code == 200
    assert IMPORT_URL not in page.content.decode()


def test_costs_in_the_preview_use_decimal_money(plan):
    preview = profiles_import_preview(data=clean_file(plan, 3))
    assert preview.plans[0].amount == Decimal("9.60")
