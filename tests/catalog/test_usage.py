"""Usage records: storing a batch (all or nothing, idempotent), first use, which bundle a
record belongs to, depletion, the 80% / 100% notices, and reading a usage CSV."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from catalog.models import MB, Bundle, EsimProfile, Plan, UsageRecord
from catalog.services.usage import (
    MSG_BYTES_INVALID,
    MSG_COLUMN_COUNT,
    MSG_DUPLICATE_ROW,
    MSG_FUTURE,
    MSG_HEADER,
    MSG_NO_BUNDLE,
    MSG_NO_ROWS,
    MSG_NOT_UTF8,
    MSG_TIME_INVALID,
    MSG_UNKNOWN_CARD,
    UsageResult,
    UsageRow,
    usage_record,
    usage_rows_from_csv,
)
from catalog.validation import ICCID_WRONG_PREFIX
from tests.billing.order_support import bought_esim, funded_customer, plan_for_sale
from tests.catalog.factories import iccid

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
ALLOWANCE_MB = 100


@pytest.fixture(autouse=True)
def clock(time_machine):
    time_machine.move_to(NOW, tick=False)


def new_card(**plan_fields: object) -> EsimProfile:
    """A card sold to a customer; its first bundle is queued, waiting for first use."""
    fields = {
        "data_mb": ALLOWANCE_MB,
        "validity_days": 30,
        "activation_policy": Plan.ActivationPolicy.ON_FIRST_USE,
        **plan_fields,
    }
    _order, profile = bought_esim(funded_customer(), plan_for_sale(**fields))
    return profile


def running_card(*, started: datetime = NOW - timedelta(days=2)) -> tuple[EsimProfile, Bundle]:
    """A card whose first bundle runs since `started`."""
    profile = new_card()
    bundle = profile.bundles.get()
    Bundle.objects.filter(pk=bundle.pk).update(
        status=Bundle.Status.ACTIVE, starts_at=started, ends_at=started + timedelta(days=30)
    )
    EsimProfile.objects.filter(pk=profile.pk).update(status=EsimProfile.Status.INSTALLED)
    bundle.refresh_from_db()
    return profile, bundle


def queue_after(bundle: Bundle, *, starts_at: datetime | None) -> Bundle:
    return Bundle.objects.create(
        profile=bundle.profile,
        plan=bundle.plan,
        data_allowance_mb=bundle.data_allowance_mb,
        status=Bundle.Status.QUEUED,
        starts_at=starts_at,
    )


def row(card: EsimProfile | str, at: datetime, *, mb: float = 0, line: int = 1) -> UsageRow:
    number = card if isinstance(card, str) else card.iccid
    return UsageRow(iccid=number, recorded_at=at, bytes_used=int(mb * MB), line=line)


def record(*rows: UsageRow) -> UsageResult:
    return usage_record(rows=list(rows), source=UsageRecord.Source.IMPORT)


def used_mb(bundle: Bundle) -> float:
    bundle.refresh_from_db()
    return bundle.data_used_bytes / MB


# --- Storing a batch -----------------------------------------------------------------------
def test_first_use_starts_the_first_bundle_and_marks_the_card_installed():
    profile = new_card()
    bundle = profile.bundles.get()
    assert (profile.status, bundle.status, bundle.starts_at) == ("assigned", "queued", None)
    first_use = NOW - timedelta(hours=5)

    result = record(
        row(profile, first_use + timedelta(hours=1), mb=3, line=1),
        row(profile, first_use, mb=2, line=2),
    )

    assert (result.ok, result.received, result.added) == (True, 2, 2)
    assert result.bundle_ids == [bundle.pk]
    bundle.refresh_from_db()
    assert bundle.status == Bundle.Status.ACTIVE
    assert bundle.starts_at == first_use  # the earliest record, not the first row
    assert bundle.ends_at == first_use + timedelta(days=30)
    assert bundle.data_used_bytes == 5 * MB
    profile.refresh_from_db()
    assert profile.status == EsimProfile.Status.INSTALLED
    assert set(UsageRecord.objects.values_list("bundle", "source")) == {(bundle.pk, "import")}


def test_the_same_batch_twice_adds_nothing_the_second_time():
    profile, bundle = running_card()
    batch = [row(profile, NOW - timedelta(hours=h), mb=4, line=h) for h in (1, 2, 3)]

    first = record(*batch)
    again = record(*batch)

    assert (first.added, again.added) == (3, 0)
    assert (again.ok, again.received) == (True, 3)
    assert UsageRecord.objects.count() == 3
    assert used_mb(bundle) == 12


def test_a_batch_overlapping_an_earlier_one_adds_only_the_new_records():
    profile, bundle = running_card()
    record(
        row(profile, NOW - timedelta(hours=2), mb=1), row(profile, NOW - timedelta(hours=1), mb=1)
    )

    result = record(row(profile, NOW - timedelta(hours=1), mb=1), row(profile, NOW, mb=5))

    assert (result.received, result.added) == (2, 1)
    assert used_mb(bundle) == 7


def test_usage_after_a_bundle_ended_goes_to_the_bundle_that_followed():
    profile, first = running_card(started=NOW - timedelta(days=40))  # ended 10 days ago
    second = queue_after(first, starts_at=first.ends_at)

    result = record(
        row(profile, NOW - timedelta(days=20), mb=7, line=1),  # during the first
        row(profile, NOW - timedelta(days=1), mb=3, line=2),  # during the second
    )

    assert result.ok
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Bundle.Status.EXPIRED
    assert second.status == Bundle.Status.ACTIVE
    assert second.starts_at == first.ends_at
    assert (used_mb(first), used_mb(second)) == (7, 3)
    assert dict(UsageRecord.objects.values_list("bytes_used", "bundle")) == {
        7 * MB: first.pk,
        3 * MB: second.pk,
    }


def test_all_data_used_depletes_the_bundle_and_starts_the_next_one_now():
    profile, first = running_card()
    second = queue_after(first, starts_at=first.ends_at)

    result = record(
        row(profile, NOW - timedelta(hours=3), mb=60, line=1),
        row(profile, NOW - timedelta(hours=2), mb=40, line=2),
    )

    assert result.ok
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Bundle.Status.DEPLETED
    assert first.used_fraction == 1.0
    assert second.status == Bundle.Status.ACTIVE
    assert second.starts_at == NOW
    assert second.ends_at == NOW + timedelta(days=30)
    assert used_mb(second) == 0


def test_usage_short_of_the_allowance_does_not_deplete():
    profile, bundle = running_card()
    record(row(profile, NOW - timedelta(hours=1), mb=ALLOWANCE_MB - 1))
    bundle.refresh_from_db()
    assert bundle.status == Bundle.Status.ACTIVE


def test_one_unknown_card_refuses_the_whole_batch_and_changes_nothing():
    profile = new_card()
    result = record(
        row(profile, NOW - timedelta(hours=1), mb=5, line=2),
        row(iccid(999_999), NOW - timedelta(hours=1), mb=5, line=3),
    )

    assert not result.ok
    assert result.errors == [(3, str(MSG_UNKNOWN_CARD))]
    assert result.added == 0
    assert not UsageRecord.objects.exists()
    profile.refresh_from_db()
    assert profile.status == EsimProfile.Status.ASSIGNED  # first use not recorded either
    bundle = profile.bundles.get()
    assert (bundle.status, bundle.starts_at, bundle.data_used_bytes) == ("queued", None, 0)


def test_a_card_in_stock_is_unknown():
    plan = plan_for_sale(data_mb=ALLOWANCE_MB, stock=1)
    in_stock = plan.profiles.get()
    result = record(row(in_stock, NOW - timedelta(hours=1), mb=1, line=4))
    assert result.errors == [(4, str(MSG_UNKNOWN_CARD))]
    assert not UsageRecord.objects.exists()


def test_a_record_before_any_bundle_ran_refuses_the_batch():
    profile, bundle = running_card(started=NOW - timedelta(days=1))
    result = record(
        row(profile, NOW - timedelta(hours=1), mb=1, line=1),
        row(profile, NOW - timedelta(days=3), mb=1, line=2),
    )
    assert result.errors == [(2, str(MSG_NO_BUNDLE))]
    assert not UsageRecord.objects.exists()
    assert used_mb(bundle) == 0


def test_a_future_time_and_a_repeated_row_are_refused():
    profile, bundle = running_card()
    at = NOW - timedelta(hours=1)
    result = record(
        row(profile, at, mb=1, line=1),
        row(
            profile, at.astimezone(timezone(timedelta(hours=8))), mb=1, line=2
        ),  # the same instant, another offset
        row(profile, NOW + timedelta(hours=1), mb=1, line=3),
    )
    assert result.errors == [(2, str(MSG_DUPLICATE_ROW)), (3, str(MSG_FUTURE))]
    assert not UsageRecord.objects.exists()
    assert used_mb(bundle) == 0


def test_a_few_minutes_of_clock_drift_is_accepted():
    profile, bundle = running_card()
    assert record(row(profile, NOW + timedelta(minutes=4), mb=1)).ok
    assert used_mb(bundle) == 1


# --- The 80% and 100% notices ------------------------------------------------------------
def test_80_percent_then_more_then_100_percent_sends_two_emails(
    django_capture_on_commit_callbacks, mailoutbox
):
    profile, bundle = running_card()
    customer = profile.owner

    with django_capture_on_commit_callbacks(execute=True):
        record(row(profile, NOW - timedelta(hours=5), mb=50))
    assert mailoutbox == []

    with django_capture_on_commit_callbacks(execute=True):
        record(row(profile, NOW - timedelta(hours=4), mb=31))  # 81%
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [customer.email]

    with django_capture_on_commit_callbacks(execute=True):
        record(row(profile, NOW - timedelta(hours=3), mb=9))  # 90%: still over 80%
    assert len(mailoutbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        record(row(profile, NOW - timedelta(hours=4), mb=31))  # a repeat: nothing new
    assert len(mailoutbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        record(row(profile, NOW - timedelta(hours=2), mb=10))  # 100%
    assert len(mailoutbox) == 2
    assert mailoutbox[1].to == [customer.email]
    assert mailoutbox[1].subject != mailoutbox[0].subject
    bundle.refresh_from_db()
    assert bundle.status == Bundle.Status.DEPLETED


def test_from_under_80_to_all_used_in_one_batch_sends_one_email(
    django_capture_on_commit_callbacks, mailoutbox
):
    profile, _bundle = running_card()
    with django_capture_on_commit_callbacks(execute=True):
        record(row(profile, NOW - timedelta(hours=1), mb=ALLOWANCE_MB))
    assert len(mailoutbox) == 1


def test_a_refused_batch_sends_no_email(django_capture_on_commit_callbacks, mailoutbox):
    profile, _bundle = running_card()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record(
            row(profile, NOW - timedelta(hours=1), mb=ALLOWANCE_MB, line=1),
            row(iccid(999_998), NOW - timedelta(hours=1), mb=1, line=2),
        )
    assert callbacks == []
    assert mailoutbox == []


# --- Reading a usage CSV -------------------------------------------------------------------
def test_csv_rows_are_read_with_normalized_numbers_and_aware_times():
    number = iccid(1234)
    spaced = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    data = (
        "\ufeffICCID,Time,Bytes\r\n"
        f"{number},2026-05-01T10:00:00Z,1024\r\n"
        "\r\n"
        f'"{spaced}",2026-05-01T12:30:00+08:00, 0 \r\n'
    ).encode()

    rows, errors = usage_rows_from_csv(data)

    assert errors == []
    assert rows == [
        UsageRow(number, datetime(2026, 5, 1, 10, tzinfo=UTC), 1024, line=2),
        UsageRow(number, datetime(2026, 5, 1, 4, 30, tzinfo=UTC), 0, line=4),
    ]


def test_csv_bad_lines_get_a_message_each():
    number = iccid(1)
    data = (
        "iccid,time,bytes\n"
        f"{number},2026-05-01T10:00:00,5\n"  # no time zone
        f"{number},2026-05-01T10:00:00Z,-5\n"
        f"{number},2026-05-01T10:00:00Z,1.5\n"
        f"{number},yesterday,5\n"
        f"{number},2026-05-01,5\n"
        "1234567890123456789,2026-05-01T10:00:00Z,5\n"
        f"{number},2026-05-01T10:00:00Z\n"
        f"{number},2026-05-01T11:00:00Z,7\n"
    ).encode()

    rows, errors = usage_rows_from_csv(data)

    assert errors == [
        (2, str(MSG_TIME_INVALID)),
        (3, str(MSG_BYTES_INVALID)),
        (4, str(MSG_BYTES_INVALID)),
        (5, str(MSG_TIME_INVALID)),
        (6, str(MSG_TIME_INVALID)),
        (7, str(ICCID_WRONG_PREFIX)),
        (8, str(MSG_COLUMN_COUNT)),
    ]
    assert [r.line for r in rows] == [9]


def test_csv_with_the_wrong_header_is_refused():
    data = f"card,when,size\n{iccid(1)},2026-05-01T10:00:00Z,5\n".encode()
    assert usage_rows_from_csv(data) == ([], [(1, str(MSG_HEADER))])


def test_csv_without_a_header_is_refused():
    data = f"{iccid(1)},2026-05-01T10:00:00Z,5\n".encode()
    assert usage_rows_from_csv(data) == ([], [(1, str(MSG_HEADER))])


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0JFIF\x00\x01", b"PK\x03\x04\x00\x00"])
def test_a_file_that_is_not_csv_is_refused(data):
    assert usage_rows_from_csv(data) == ([], [(1, str(MSG_NOT_UTF8))])


@pytest.mark.parametrize("data", [b"", b"iccid,time,bytes\n", b"\n\n"])
def test_an_empty_file_is_refused(data):
    rows, errors = usage_rows_from_csv(data)
    assert rows == []
    assert errors in ([(1, str(MSG_HEADER))], [(1, str(MSG_NO_ROWS))])
