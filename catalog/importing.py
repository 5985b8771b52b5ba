"""CSV import of eSIM profiles: a preview that lists every row's problems, then one write.

Reseller staff upload a supplier's CSV in the admin. `profiles_import_preview` reads and checks
every row without writing; `profiles_import` checks again (stock may have changed since the
preview) and writes the whole file in one transaction, or nothing when any row has an error.

Columns (header names are case-insensitive; spaces inside become underscores):

- `iccid`;
- `activation_code` (`LPA:1$smdp.example.com$MATCHING-ID[$oid[$1]]`), or `smdp_address` and
  `matching_id` (and optionally `oid`);
- `confirmation_code`, optional;
- `plan`: the plan's code;
- `cost`, optional: the wholesale cost of the profile, in the optional `currency` column's
  currency or else the plan's wholesale cost currency. Without a cost column every profile
  costs its plan's wholesale cost.

Line numbers are the spreadsheet's: the header is line 1, the first data row line 2.

Built for files of 100,000 rows: the csv module, the pure-Python checks of `validation`, one
query for the plans, chunked queries for ICCIDs already in stock, `bulk_create` in batches.

Matching IDs and confirmation codes are secrets: no message, log line or repr made here
contains one, and `ImportPreview` holds none (only counts and problems).
"""

import csv
import io
import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, cast

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from djmoney.money import Money
from djmoney.settings import CURRENCY_CHOICES
from simple_history.utils import bulk_create_with_history

from accounts.models import User

from .exceptions import CatalogError
from .models import EsimProfile, ImportBatch, Plan
from .signals import profiles_imported
from .validation import (
    LUHN_WARNING,
    ActivationCode,
    IccidCheck,
    build_activation_code,
    check_iccid,
    parse_activation_code,
)

logger = logging.getLogger(__name__)

COL_ICCID = "iccid"
COL_ACTIVATION_CODE = "activation_code"
COL_SMDP_ADDRESS = "smdp_address"
COL_MATCHING_ID = "matching_id"
COL_OID = "oid"
COL_CONFIRMATION_CODE = "confirmation_code"
COL_PLAN = "plan"
COL_COST = "cost"
COL_CURRENCY = "currency"
COLUMNS = (
    COL_ICCID,
    COL_ACTIVATION_CODE,
    COL_SMDP_ADDRESS,
    COL_MATCHING_ID,
    COL_OID,
    COL_CONFIRMATION_CODE,
    COL_PLAN,
    COL_COST,
    COL_CURRENCY,
)

# Problems listed one by one; the rest are only counted (a 100,000-row file of duplicates
# would otherwise keep 100,000 messages for a page nobody reads to the end).
MAX_LISTED_PROBLEMS = 500
STOCK_QUERY_CHUNK = 10_000
BULK_CREATE_BATCH = 5_000
HEADER_LINE = 1

_matching_id_field = EsimProfile._meta.get_field("matching_id")
_confirmation_code_field = EsimProfile._meta.get_field("confirmation_code")
_oid_field = EsimProfile._meta.get_field("activation_oid")
MATCHING_ID_MAX_LENGTH = cast(int, _matching_id_field.max_length)
CONFIRMATION_CODE_MAX_LENGTH = cast(int, _confirmation_code_field.max_length)
OID_MAX_LENGTH = cast(int, _oid_field.max_length)
FILE_NAME_MAX_LENGTH = cast(int, ImportBatch._meta.get_field("file_name").max_length)
COST_MAX = Decimal("9999999999.99")  # MoneyField(max_digits=12, decimal_places=2)
CENT = Decimal("0.01")
ECHO_MAX_LENGTH = 40  # longest cell value quoted back in a message (plan codes, currencies)

FILE_NOT_UTF8 = _("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (Comma delimited)”.")
FILE_EMPTY = _("The file is empty.")
FILE_NO_ROWS = _("The file has a header line but no rows.")
FILE_NOT_CSV = _("This line cannot be read as CSV (%(error)s).")
HEADER_MISSING_COLUMN = _("The header has no “%(column)s” column.")
HEADER_ACTIVATION_COLUMNS = _(
    "Give either an activation_code column or smdp_address and matching_id columns, not both."
)
HEADER_DUPLICATE_COLUMN = _("The column “%(column)s” appears more than once in the header.")
HEADER_UNUSED_COLUMN = _("The column “%(column)s” is not used.")
ROW_TOO_MANY_CELLS = _("This row has more cells than the header. Is a comma missing its quotes?")
ICCID_DUPLICATE = _("This ICCID is also on line %(line)d.")
ICCID_IN_STOCK = _("This ICCID is already in stock.")
ACTIVATION_CODE_DUPLICATE = _("This activation code is also on line %(line)d.")
MATCHING_ID_TOO_LONG = _("The matching ID is longer than %(max)d characters.")
OID_TOO_LONG = _("The SM-DP+ OID is longer than %(max)d characters.")
CONFIRMATION_CODE_TOO_LONG = _("The confirmation code is longer than %(max)d characters.")
CONFIRMATION_CODE_MISSING = _(
    "This activation code asks for a confirmation code, but the confirmation_code cell is empty."
)
CONFIRMATION_CODE_UNFLAGGED = _(
    "The activation code does not ask for a confirmation code, but one is given: "
    "the customer will be asked for it when installing."
)
PLAN_EMPTY = _("Enter the plan code.")
PLAN_UNKNOWN = _("There is no plan with the code “%(code)s”.")
PLAN_TOPUP = _("“%(code)s” is a top-up add-on: eSIM profiles are stocked for base plans only.")
COST_EMPTY = _("Enter the cost, or leave out the cost column to use the plan's wholesale cost.")
COST_INVALID = _("Enter the cost as a number, for example 4.50.")
COST_NEGATIVE = _("The cost cannot be negative.")
COST_DECIMALS = _("The cost has more than two decimal places.")
COST_TOO_LARGE = _("The cost is too large.")
CURRENCY_UNKNOWN = _("The currency “%(currency)s” is not one of %(currencies)s.")
IMPORT_CONFLICT = _(
    "Another import added some of these cards while this one was being written. "
    "Nothing was imported; preview the file again."
)
IMPORT_REJECTED = ngettext_lazy(
    "The file has %(count)d error; nothing was imported.",
    "The file has %(count)d errors; nothing was imported.",
    "count",
)


class ProfileImportRejected(CatalogError):
    """The file has errors (or lost a race with another import); nothing was written."""

    def __init__(self, *, preview: "ImportPreview") -> None:
        self.preview = preview
        super().__init__(IMPORT_REJECTED % {"count": preview.error_count})


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int  # spreadsheet line: the header is line 1
    column: str  # "" when the problem is the file's, not a cell's
    message: str
    code: str


@dataclass(slots=True)
class PlanTotal:
    """The valid rows of one plan in one currency: how many, and what they cost together."""

    code: str
    name: str
    currency: str
    rows: int = 0
    amount: Decimal = Decimal(0)

    @property
    def cost(self) -> Money:
        return Money(self.amount, self.currency)


@dataclass
class ImportPreview:
    """What an import would do. Holds counts and problems, never a profile's secrets."""

    rows: int = 0  # data rows read (blank lines are skipped, not counted)
    errors: list[ImportProblem] = field(default_factory=list)  # the first MAX_LISTED_PROBLEMS
    warnings: list[ImportProblem] = field(default_factory=list)
    error_count: int = 0
    warning_count: int = 0
    error_rows: int = 0  # rows with at least one error
    error_codes: Counter[str] = field(default_factory=Counter)  # errors by kind
    plans: list[PlanTotal] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def valid_rows(self) -> int:
        return self.rows - self.error_rows

    @property
    def unlisted_errors(self) -> int:
        return self.error_count - len(self.errors)

    @property
    def unlisted_warnings(self) -> int:
        return self.warning_count - len(self.warnings)

    @property
    def totals(self) -> list[Money]:
        """The cost of the valid rows, one amount per currency."""
        by_currency: dict[str, Decimal] = {}
        for plan in self.plans:
            by_currency[plan.currency] = by_currency.get(plan.currency, Decimal(0)) + plan.amount
        return [Money(amount, currency) for currency, amount in sorted(by_currency.items())]

    def add_error(self, line: int, column: str, message: str | Promise, code: str) -> None:
        self.error_count += 1
        self.error_codes[code] += 1
        if len(self.errors) < MAX_LISTED_PROBLEMS:
            self.errors.append(ImportProblem(line, column, str(message), code))

    def add_warning(self, line: int, column: str, message: str | Promise, code: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_LISTED_PROBLEMS:
            self.warnings.append(ImportProblem(line, column, str(message), code))


class _Row(NamedTuple):
    """One valid row, ready to be written. Holds secrets: never logged, never shown."""

    iccid: str
    smdp_address: str
    matching_id: str
    oid: str
    confirmation_code: str
    plan_id: int
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class _Header:
    iccid: int
    plan: int
    activation_code: int | None
    smdp_address: int | None
    matching_id: int | None
    oid: int | None
    confirmation_code: int | None
    cost: int | None
    currency: int | None
    width: int


def _message(error: ValidationError) -> str:
    return str(error.messages[0])


def _echo(value: str) -> str:
    return value if len(value) <= ECHO_MAX_LENGTH else value[: ECHO_MAX_LENGTH - 1] + "…"


def _decode(data: bytes | str) -> str | None:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _dialect_delimiter(text: str) -> str:
    """Comma, or the semicolon or tab some spreadsheets write instead; read off the header."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    if "," not in header:
        if ";" in header:
            return ";"
        if "\t" in header:
            return "\t"
    return ","


def _column_name(raw: str) -> str:
    return "_".join(raw.strip().lower().split())


def _read_header(line: int, names: Sequence[str], preview: ImportPreview) -> _Header | None:
    columns: dict[str, int] = {}
    for index, raw in enumerate(names):
        name = _column_name(raw)
        if not name:
            continue
        if name in columns:
            preview.add_error(
                line, name, HEADER_DUPLICATE_COLUMN % {"column": _echo(name)}, "header"
            )
        elif name not in COLUMNS:
            preview.add_warning(
                line, name, HEADER_UNUSED_COLUMN % {"column": _echo(name)}, "header"
            )
        columns.setdefault(name, index)
    for required in (COL_ICCID, COL_PLAN):
        if required not in columns:
            preview.add_error(
                line, required, HEADER_MISSING_COLUMN % {"column": required}, "header"
            )
    whole = COL_ACTIVATION_CODE in columns
    parts = COL_SMDP_ADDRESS in columns or COL_MATCHING_ID in columns
    if whole == parts or (parts and not {COL_SMDP_ADDRESS, COL_MATCHING_ID} <= columns.keys()):
        preview.add_error(line, COL_ACTIVATION_CODE, HEADER_ACTIVATION_COLUMNS, "header")
    elif whole and COL_OID in columns:  # the activation code carries its own OID
        preview.add_warning(line, COL_OID, HEADER_UNUSED_COLUMN % {"column": COL_OID}, "header")
    if not preview.ok:
        return None
    return _Header(
        iccid=columns[COL_ICCID],
        plan=columns[COL_PLAN],
        activation_code=columns.get(COL_ACTIVATION_CODE),
        smdp_address=columns.get(COL_SMDP_ADDRESS),
        matching_id=columns.get(COL_MATCHING_ID),
        oid=columns.get(COL_OID),
        confirmation_code=columns.get(COL_CONFIRMATION_CODE),
        cost=columns.get(COL_COST),
        currency=columns.get(COL_CURRENCY),
        width=len(names),
    )


def _records(text: str, preview: ImportPreview) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) of every non-blank record; a CSV syntax error ends the file as an error."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect_delimiter(text))
    line = 0
    try:
        for line, record in enumerate(reader, start=1):
            if any(record):
                yield line, record
    except csv.Error as exc:
        preview.add_error(line + 1, "", FILE_NOT_CSV % {"error": exc}, "csv")


def _stock_iccids(iccids: Sequence[str]) -> set[str]:
    """The ICCIDs among `iccids` that are already profiles, whatever their status."""
    found: set[str] = set()
    for start in range(0, len(iccids), STOCK_QUERY_CHUNK):
        chunk = iccids[start : start + STOCK_QUERY_CHUNK]
        found.update(EsimProfile.objects.filter(iccid__in=chunk).values_list("iccid", flat=True))
    return found


def _cost(
    cells: list[str], header: _Header, plan: Plan, currencies: frozenset[str]
) -> tuple[Decimal, str] | tuple[str, str | Promise]:
    """(amount, currency), or (column, error message)."""
    plan_cost = cast(Money, plan.wholesale_cost)
    if header.cost is None:
        return plan_cost.amount, str(plan_cost.currency)
    currency = str(plan_cost.currency)
    if header.currency is not None and header.currency < len(cells):
        given = cells[header.currency].strip().upper()
        if given:
            currency = given
    if currency not in currencies:
        message = CURRENCY_UNKNOWN % {
            "currency": _echo(currency),
            "currencies": ", ".join(sorted(currencies)),
        }
        return COL_CURRENCY, message
    raw = cells[header.cost].strip() if header.cost < len(cells) else ""
    if not raw:
        return COL_COST, COST_EMPTY
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return COL_COST, COST_INVALID
    if not amount.is_finite():
        return COL_COST, COST_INVALID
    if amount < 0:
        return COL_COST, COST_NEGATIVE
    if amount != amount.quantize(CENT):
        return COL_COST, COST_DECIMALS
    if amount > COST_MAX:
        return COL_COST, COST_TOO_LARGE
    return amount, currency


def _validate(data: bytes | str) -> tuple[ImportPreview, list[_Row]]:
    """Check every row; the rows are complete only when the preview is ok."""
    preview = ImportPreview()
    text = _decode(data)
    if text is None:
        preview.add_error(HEADER_LINE, "", FILE_NOT_UTF8, "encoding")
        return preview, []
    records = _records(text, preview)
    first = next(records, None)
    if first is None:
        if preview.ok:
            preview.add_error(HEADER_LINE, "", FILE_EMPTY, "empty")
        return preview, []
    header_line, names = first
    header = _read_header(header_line, names, preview)
    if header is None:
        return preview, []
    # All records first: the plans and the stock are looked up once, before the checks.
    body = list(records)
    if not body and preview.ok:
        preview.add_error(header_line, "", FILE_NO_ROWS, "empty")

    iccid_checks: list[IccidCheck | ValidationError] = []
    plan_codes: set[str] = set()
    for _line, cells in body:
        raw_iccid = cells[header.iccid] if header.iccid < len(cells) else ""
        try:
            iccid_checks.append(check_iccid(raw_iccid))
        except ValidationError as exc:
            iccid_checks.append(exc)
        if header.plan < len(cells):
            plan_codes.add(cells[header.plan].strip())
    plans = {plan.code: plan for plan in Plan.objects.filter(code__in=plan_codes)}
    in_stock = _stock_iccids(
        [check.iccid for check in iccid_checks if isinstance(check, IccidCheck)]
    )
    currencies = frozenset(code for code, _name in cast(list[tuple[str, str]], CURRENCY_CHOICES))

    rows: list[_Row] = []
    totals: dict[tuple[int, str], PlanTotal] = {}
    iccid_lines: dict[str, int] = {}
    activation_lines: dict[tuple[str, str], int] = {}
    add_error = preview.add_error
    for (line, cells), iccid_check in zip(body, iccid_checks, strict=True):
        preview.rows += 1
        errors_before = preview.error_count
        if len(cells) > header.width:
            add_error(line, "", ROW_TOO_MANY_CELLS, "cells")
        # Short rows (a spreadsheet leaves trailing empty cells out) read as empty cells.
        cells += [""] * (header.width - len(cells))

        iccid = ""
        repeated = False  # the same card again: its activation code is then no news
        if isinstance(iccid_check, ValidationError):
            add_error(line, COL_ICCID, _message(iccid_check), "iccid")
        else:
            iccid = iccid_check.iccid
            first_line = iccid_lines.setdefault(iccid, line)
            repeated = first_line != line
            if repeated:
                add_error(line, COL_ICCID, ICCID_DUPLICATE % {"line": first_line}, "duplicate")
            elif iccid in in_stock:
                add_error(line, COL_ICCID, ICCID_IN_STOCK, "in_stock")
            if not iccid_check.luhn_ok:
                preview.add_warning(line, COL_ICCID, LUHN_WARNING, "luhn")

        confirmation_code = (
            cells[header.confirmation_code].strip() if header.confirmation_code is not None else ""
        )
        code: ActivationCode | None = None
        try:
            if header.activation_code is not None:
                code = parse_activation_code(cells[header.activation_code])
            else:
                code = build_activation_code(
                    cells[cast(int, header.smdp_address)],
                    cells[cast(int, header.matching_id)],
                    cells[header.oid] if header.oid is not None else "",
                    confirmation_code_required=bool(confirmation_code),
                )
        except ValidationError as exc:
            column = COL_ACTIVATION_CODE
            if header.activation_code is None:
                column = exc.code if exc.code in (COL_MATCHING_ID, COL_OID) else COL_SMDP_ADDRESS
            add_error(line, column, _message(exc), "activation_code")
        if code is not None:
            code_column = COL_ACTIVATION_CODE if header.activation_code is not None else ""
            if len(code.matching_id) > MATCHING_ID_MAX_LENGTH:
                add_error(
                    line,
                    code_column or COL_MATCHING_ID,
                    MATCHING_ID_TOO_LONG % {"max": MATCHING_ID_MAX_LENGTH},
                    "activation_code",
                )
            if len(code.oid) > OID_MAX_LENGTH:
                add_error(
                    line,
                    code_column or COL_OID,
                    OID_TOO_LONG % {"max": OID_MAX_LENGTH},
                    "activation_code",
                )
            if code.matching_id and not repeated:
                key = (code.smdp_address.lower(), code.matching_id)
                first_line = activation_lines.setdefault(key, line)
                if first_line != line:
                    add_error(
                        line,
                        code_column or COL_MATCHING_ID,
                        ACTIVATION_CODE_DUPLICATE % {"line": first_line},
                        "duplicate",
                    )
            if code.confirmation_code_required and not confirmation_code:
                add_error(line, COL_CONFIRMATION_CODE, CONFIRMATION_CODE_MISSING, "confirmation")
            elif confirmation_code and not code.confirmation_code_required:
                preview.add_warning(
                    line, COL_CONFIRMATION_CODE, CONFIRMATION_CODE_UNFLAGGED, "confirmation"
                )
        if len(confirmation_code) > CONFIRMATION_CODE_MAX_LENGTH:
            add_error(
                line,
                COL_CONFIRMATION_CODE,
                CONFIRMATION_CODE_TOO_LONG % {"max": CONFIRMATION_CODE_MAX_LENGTH},
                "confirmation",
            )

        plan_code = cells[header.plan].strip()
        plan = plans.get(plan_code)
        cost: tuple[Decimal, str] | None = None
        if not plan_code:
            add_error(line, COL_PLAN, PLAN_EMPTY, "plan")
        elif plan is None:
            add_error(line, COL_PLAN, PLAN_UNKNOWN % {"code": _echo(plan_code)}, "plan")
        elif plan.kind == Plan.Kind.TOPUP:
            add_error(line, COL_PLAN, PLAN_TOPUP % {"code": plan_code}, "plan")
        else:
            amount_or_column, currency_or_message = _cost(cells, header, plan, currencies)
            if isinstance(amount_or_column, Decimal):
                cost = (amount_or_column, str(currency_or_message))
            else:
                add_error(line, amount_or_column, currency_or_message, "cost")

        if preview.error_count != errors_before:
            preview.error_rows += 1
            continue
        assert code is not None and plan is not None and cost is not None
        amount, currency = cost
        total = totals.get((plan.pk, currency))
        if total is None:
            total = totals[plan.pk, currency] = PlanTotal(plan.code, plan.name, currency)
        total.rows += 1
        total.amount += amount
        rows.append(
            _Row(
                iccid,
                code.smdp_address,
                code.matching_id,
                code.oid,
                confirmation_code,
                plan.pk,
                amount,
                currency,
            )
        )
    preview.plans = sorted(totals.values(), key=lambda total: (total.code, total.currency))
    return preview, rows


def profiles_import_preview(*, data: bytes | str) -> ImportPreview:
    """Read and check a CSV of profiles without writing anything."""
    preview, _rows = _validate(data)
    return preview


def _profiles_write(*, rows: list[_Row], file_name: str, actor: User) -> ImportBatch:
    available = EsimProfile.Status.AVAILABLE
    with transaction.atomic(durable=True):
        batch = ImportBatch.objects.create(
            file_name=file_name[:FILE_NAME_MAX_LENGTH], imported_by=actor, rows=len(rows)
        )
        profiles = [
            EsimProfile(
                iccid=row.iccid,
                smdp_address=row.smdp_address,
                matching_id=row.matching_id,
                activation_oid=row.oid,
                confirmation_code=row.confirmation_code,
                plan_id=row.plan_id,
                wholesale_cost=cast(Any, row.amount),
                wholesale_cost_currency=row.currency,
                batch_id=batch.pk,
                status=available,
            )
            for row in rows
        ]
        # With a "created" history record each (secrets excluded), signed by the importer.
        bulk_create_with_history(
            profiles,
            EsimProfile,
            batch_size=BULK_CREATE_BATCH,
            default_user=actor,
            default_change_reason=f"CSV import, batch {batch.pk}",
        )
        # Billing posts the stock's cost here, in this transaction: see `profiles_import`.
        profiles_imported.send(sender=ImportBatch, batch=batch)
    return batch


def _is_iccid_conflict(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    table = getattr(diag, "table_name", None) or ""
    if constraint:
        return table == EsimProfile._meta.db_table and "iccid" in constraint
    return "iccid" in str(exc)  # other databases: the message names the column


def profiles_import(*, data: bytes | str, file_name: str, actor: User) -> ImportBatch:
    """Import a CSV of profiles as one batch of available stock, or nothing.

    Checks the file again (the stock may have changed since the preview) and raises
    ProfileImportRejected, carrying the preview, when any row has an error. A clean file is
    written in one durable transaction: the ImportBatch (who, file name, rows), then the
    profiles. If another import commits some of the same ICCIDs in between, the unique index
    refuses the write and the file is checked again, so those rows are reported as already in
    stock.

    Ledger: the `profiles_imported` signal is sent inside that same transaction, and billing
    posts the stock's cost (eSIM inventory against supplier payable, per currency) there.
    """
    preview, rows = _validate(data)
    if not preview.ok:
        logger.info(
            "eSIM profile import rejected: file=%r errors=%d user=%s",
            file_name,
            preview.error_count,
            actor.pk,
        )
        raise ProfileImportRejected(preview=preview)
    try:
        batch = _profiles_write(rows=rows, file_name=file_name, actor=actor)
    except IntegrityError as exc:
        if not _is_iccid_conflict(exc):
            raise
        logger.warning(
            "eSIM profile import lost a race on ICCIDs: file=%r user=%s", file_name, actor.pk
        )
        preview, _rows = _validate(data)
        if preview.ok:  # the other import's rows are gone again: still, nothing was written
            preview.add_error(HEADER_LINE, "", IMPORT_CONFLICT, "in_stock")
        raise ProfileImportRejected(preview=preview) from exc
    logger.info(
        "eSIM profiles imported: batch=%d rows=%d file=%r user=%s",
        batch.pk,
        batch.rows,
        file_name,
        actor.pk,
    )
    return batch
