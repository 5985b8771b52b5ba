"""Data usage reported by the network: staff import it from CSV, an upstream system posts it.

Each record (card, time, bytes) is stored once, whoever sends it how often; a bundle's data
used is the sum of its records, recounted after each batch, so a repeat changes nothing.
A batch with any bad row is refused whole, with a message per row, and changes nothing.
"""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import Bundle, EsimProfile, UsageRecord
from catalog.selectors import USABLE_CARD_STATUSES
from catalog.services.bundles import bundles_advance, profile_first_use
from catalog.signals import usage_recorded
from catalog.validation import normalize_iccid

# Clocks upstream drift: a record up to this far in the future is accepted.
FUTURE_TOLERANCE = timedelta(minutes=5)
CSV_COLUMNS = ("iccid", "time", "bytes")
MAX_BYTES = 2**63 - 1  # PostgreSQL bigint

MSG_UNKNOWN_CARD = _("We did not sell a card with this number.")
MSG_NO_BUNDLE = _("No bundle was running on this card at this time.")
MSG_FUTURE = _("The time is in the future.")
MSG_DUPLICATE_ROW = _("The same card and time appear twice in this batch.")
MSG_TIME_INVALID = _(
    "Enter the time in ISO 8601 with a time zone, for example 2026-05-01T14:30:00Z."
)
MSG_BYTES_INVALID = _("Enter the bytes as a whole number, 0 or more.")
MSG_ICCID_MISSING = _("Enter the card number (ICCID).")
MSG_NOT_UTF8 = _("The file is not a UTF-8 CSV file.")
MSG_CSV_BROKEN = _("This line cannot be read as CSV.")
MSG_HEADER = _("The first line must be the header: iccid,time,bytes.")
MSG_COLUMN_COUNT = _("This line must have 3 values: iccid, time and bytes.")
MSG_NO_ROWS = _("The file has no records after the header.")


@dataclass(frozen=True)
class UsageRow:
    iccid: str
    recorded_at: datetime
    bytes_used: int
    line: int = 0  # where the row came from, for messages (CSV line or list index)


@dataclass
class UsageResult:
    received: int = 0
    added: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    bundle_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def usage_record(*, rows: list[UsageRow], source: str) -> UsageResult:
    """Store the records, start bundles on first use, recount each bundle's data used and
    mark the ones used up; billing's receiver of `usage_recorded` emails the 80% and 100%
    notices after commit. All or nothing: any bad row refuses the whole batch."""
    result = UsageResult(received=len(rows))
    now = timezone.now()
    seen: set[tuple[str, datetime]] = set()
    for row in rows:
        if row.recorded_at > now + FUTURE_TOLERANCE:
            result.errors.append((row.line, str(MSG_FUTURE)))
        if (row.iccid, row.recorded_at) in seen:
            result.errors.append((row.line, str(MSG_DUPLICATE_ROW)))
        seen.add((row.iccid, row.recorded_at))
    if result.errors:
        return result
    with transaction.atomic():
        profiles = {
            p.iccid: p
            for p in EsimProfile.objects.filter(
                iccid__in={r.iccid for r in rows}, status__in=(*USABLE_CARD_STATUSES, "expired")
            )
            .order_by("pk")
            .select_for_update()
        }
        by_profile: dict[int, list[UsageRow]] = defaultdict(list)
        for row in rows:
            profile = profiles.get(row.iccid)
            if profile is None:
                result.errors.append((row.line, str(MSG_UNKNOWN_CARD)))
            else:
                by_profile[profile.pk].append(row)
        if result.errors:
            return result
        # Bring each card's bundles up to date before placing records on them.
        bundles_advance(now=now, profile_ids=by_profile)
        records = []
        for profile in profiles.values():
            card_rows = sorted(by_profile[profile.pk], key=lambda r: r.recorded_at)
            profile_first_use(profile=profile, at=card_rows[0].recorded_at)
            bundles = list(
                Bundle.objects.filter(profile=profile, starts_at__isnull=False).order_by(
                    "starts_at", "pk"
                )
            )
            for row in card_rows:
                bundle = _bundle_at(bundles, row.recorded_at)
                if bundle is None:
                    result.errors.append((row.line, str(MSG_NO_BUNDLE)))
                    continue
                records.append(
                    UsageRecord(
                        profile=profile,
                        bundle=bundle,
                        recorded_at=row.recorded_at,
                        bytes_used=row.bytes_used,
                        source=source,
                    )
                )
        if result.errors:
            transaction.set_rollback(True)
            return result
        before = UsageRecord.objects.filter(profile__in=profiles.values()).count()
        UsageRecord.objects.bulk_create(records, ignore_conflicts=True)
        result.added = UsageRecord.objects.filter(profile__in=profiles.values()).count() - before
        bundle_ids = sorted({r.bundle_id for r in records})
        totals = (
            UsageRecord.objects.filter(bundle=OuterRef("pk"))
            .values("bundle")
            .annotate(total=Sum("bytes_used"))
            .values("total")
        )
        Bundle.objects.filter(pk__in=bundle_ids).update(
            data_used_bytes=Coalesce(Subquery(totals), 0)
        )
        bundles_advance(now=now, profile_ids=by_profile)
        result.bundle_ids = bundle_ids
        usage_recorded.send(sender=UsageRecord, bundle_ids=bundle_ids)
    return result


def _bundle_at(bundles: list[Bundle], at: datetime) -> Bundle | None:
    """The bundle that was running at `at`: started by then and not yet ended."""
    for bundle in reversed(bundles):
        assert bundle.starts_at is not None
        if bundle.starts_at <= at and (bundle.ends_at is None or at < bundle.ends_at):
            return bundle
    return None


def usage_row_parse(*, iccid: object, time: object, bytes_used: object, line: int) -> UsageRow:
    """One record as sent (CSV text or JSON values) -> a UsageRow; ValidationError with every
    problem of the record otherwise."""
    problems: list[ValidationError] = []
    card = ""
    if not isinstance(iccid, str) or not iccid.strip():
        problems.append(ValidationError(MSG_ICCID_MISSING, code="iccid"))
    else:
        try:
            card = normalize_iccid(iccid)
        except ValidationError as error:
            problems.append(error)
    at = _time_parse(time)
    if at is None:
        problems.append(ValidationError(MSG_TIME_INVALID, code="time"))
    count = _bytes_parse(bytes_used)
    if count is None:
        problems.append(ValidationError(MSG_BYTES_INVALID, code="bytes"))
    if problems:
        raise ValidationError(problems)
    assert at is not None and count is not None
    return UsageRow(iccid=card, recorded_at=at, bytes_used=count, line=line)


def usage_rows_from_csv(data: bytes) -> tuple[list[UsageRow], list[tuple[int, str]]]:
    """Read a usage CSV (header iccid,time,bytes): the rows, or a message per bad line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(1, str(MSG_NOT_UTF8))]
    if "\x00" in text:
        return [], [(1, str(MSG_NOT_UTF8))]
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[UsageRow] = []
    errors: list[tuple[int, str]] = []
    header_seen = False
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error:
            errors.append((reader.line_num, str(MSG_CSV_BROKEN)))
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines
        if not header_seen:
            header_seen = True
            if tuple(v.strip().lower() for v in values) != CSV_COLUMNS:
                return [], [(line, str(MSG_HEADER))]
            continue
        if len(values) != len(CSV_COLUMNS):
            errors.append((line, str(MSG_COLUMN_COUNT)))
            continue
        iccid, time, bytes_used = (v.strip() for v in values)
        try:
            rows.append(usage_row_parse(iccid=iccid, time=time, bytes_used=bytes_used, line=line))
        except ValidationError as error:
            errors.extend((line, message) for message in error.messages)
    if not header_seen:
        return [], [(1, str(MSG_HEADER))]
    if not rows and not errors:
        errors.append((1, str(MSG_NO_ROWS)))
    return rows, errors


def _time_parse(value: object) -> datetime | None:
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        return None
    return at


def _bytes_parse(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_BYTES:
        return None
    return value
