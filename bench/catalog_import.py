"""Figure `catalog_import`: preview, then import, a 100,000-row CSV of eSIM profiles.

The goal (issue "CSV import of eSIM profiles") is 30 seconds or less for both steps on the
bench machine. The figure is a rate, rows per second over both steps, like every callable
figure; the absolute seconds are printed and kept in the JSON details.

Unlike `measure_rate` figures it runs once, whatever --duration says: a second import of the
same file would only find every card already in stock.
"""

import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # bench.figures imports this module
    from bench.figures import BenchContext, Measurement

ROWS = 100_000
GOAL_SECONDS = 30
PLAN_CODE = "bench-import-jp-5gb"
ACTOR_EMAIL = "bench-import@example.com"
FILE_NAME = "profiles-100k.csv"
WARM_UP_ROWS = 1_000


def _csv_path(ctx: "BenchContext") -> Path:
    return ctx.workdir / FILE_NAME


def setup(ctx: "BenchContext") -> None:
    """A plan, a staff user, and the file: what a supplier sends, with a confirmation code."""
    from djmoney.money import Money

    from accounts.models import User
    from catalog.models import Plan
    from catalog.validation import luhn_check_digit

    Plan.objects.create(
        code=PLAN_CODE,
        name="Japan 5 GB (bench)",
        country="JP",
        data_mb=5120,
        validity_days=30,
        wholesale_cost=cast(Any, Money(Decimal("3.20"), "USD")),
    )
    User.objects.create_user(ACTOR_EMAIL, is_staff=True)
    lines = ["iccid,activation_code,confirmation_code,plan,cost\r\n"]
    for n in range(ROWS):
        payload = f"8986{n:014d}"
        lines.append(
            f"{payload}{luhn_check_digit(payload)},"
            f"LPA:1$smdp.bench.example.com${n:08X}-BENCH-MATCH$$1,{n % 10_000:04d},"
            f"{PLAN_CODE},3.20\r\n"
        )
    _csv_path(ctx).write_text("".join(lines), encoding="utf-8")


def measure(ctx: "BenchContext") -> "Measurement":
    from accounts.models import User
    from bench.figures import Measurement
    from catalog.importing import profiles_import, profiles_import_preview

    data = _csv_path(ctx).read_bytes()
    actor = User.objects.get(email=ACTOR_EMAIL)
    # Untimed: connect, load the modules, compile the regexes (reads only).
    warm_up = b"".join(data.splitlines(keepends=True)[: WARM_UP_ROWS + 1])
    profiles_import_preview(data=warm_up)

    start = time.perf_counter()
    preview = profiles_import_preview(data=data)
    previewed = time.perf_counter()
    batch = profiles_import(data=data, file_name=FILE_NAME, actor=actor)
    done = time.perf_counter()

    if not preview.ok or batch.rows != ROWS:
        raise RuntimeError(f"import went wrong: {preview.error_count} errors, {batch.rows} rows")
    seconds = done - start
    return Measurement(
        value=ROWS / seconds,
        details={
            "rows": ROWS,
            "seconds": round(seconds, 2),
            "preview_seconds": round(previewed - start, 2),
            "import_seconds": round(done - previewed, 2),
            "goal_seconds": GOAL_SECONDS,
        },
        note=(
            f"{ROWS:,} rows in {seconds:.1f} s (preview {previewed - start:.1f} s, "
            f"import {done - previewed:.1f} s; goal {GOAL_SECONDS} s)"
        ),
    )
