"""The figures of `make bench`: one line each in FIGURES.

Every figure is reported as a ratio to a baseline measured in the same run, because the
machines are noisy 2-core boxes where absolute rates move with the neighbours:

- `http(...)`: requests per second of a GET on the gunicorn server, measured with wrk exactly
  like the bare Django view, compared to DJANGO_BARE_RPS.
- `rate(...)`: a function of the BenchContext returning operations per second (in-process,
  Django set up with bench.settings), by default compared to PGBENCH_TPS; `measure_rate`
  times a callable for the run's duration. It may return a `Measurement` instead, to add
  details to the JSON and a printed note (e.g. the seconds a one-shot job took).

A figure's optional `setup` runs once before any measurement (after `migrate`, before gunicorn
starts), e.g. to seed a catalog; figures sharing a setup function run it once.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench import catalog_import, ledger

Baseline = Literal["pgbench_tps", "django_bare_rps"]
PGBENCH_TPS: Baseline = "pgbench_tps"
DJANGO_BARE_RPS: Baseline = "django_bare_rps"


@dataclass(frozen=True)
class BenchContext:
    duration: int  # seconds each measurement runs
    workdir: Path  # scratch directory, removed after the run


@dataclass(frozen=True)
class Measurement:
    """A callable figure's rate plus what else it measured: `details` go into the JSON, and
    `note` (e.g. the absolute seconds of a one-shot job) is printed with the result."""

    value: float
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""


Hook = Callable[[BenchContext], None]
Measure = Callable[[BenchContext], "float | Measurement"]


@dataclass(frozen=True)
class Figure:
    name: str
    description: str
    baseline: Baseline
    unit: str
    path: str | None = None  # HTTP figure: URL path on the gunicorn server
    measure: Measure | None = None  # callable figure: returns a rate per second (or Measurement)
    setup: Hook | None = None
    expected_status: int = 200  # checked while warming up, so a redirect is not measured

    def __post_init__(self) -> None:
        if (self.path is None) == (self.measure is None):
            raise ValueError(f"figure {self.name}: give exactly one of path and measure")

    @property
    def kind(self) -> str:
        return "http" if self.path is not None else "callable"


def http(
    name: str, description: str, path: str, *, setup: Hook | None = None, expected_status: int = 200
) -> Figure:
    return Figure(
        name,
        description,
        DJANGO_BARE_RPS,
        "req/s",
        path=path,
        setup=setup,
        expected_status=expected_status,
    )


def rate(
    name: str,
    description: str,
    measure: Measure,
    *,
    unit: str,
    baseline: Baseline = PGBENCH_TPS,
    setup: Hook | None = None,
) -> Figure:
    return Figure(name, description, baseline, unit, measure=measure, setup=setup)


def measure_rate(ctx: BenchContext, operation: Callable[[], object], per_call: int = 1) -> float:
    """Calls `operation` for ctx.duration seconds; returns operations (per_call each) per second.

    One untimed call first, so connecting and first-use caches are not counted.
    """
    operation()
    calls = 0
    start = time.perf_counter()
    deadline = start + ctx.duration
    while (now := time.perf_counter()) < deadline:
        operation()
        calls += 1
    return calls * per_call / (now - start)


FIGURES: list[Figure] = [
    http("home_page", "Storefront home page, anonymous visitor", "/"),
    http("login_page", "Sign-in page (GET), anonymous visitor", "/accounts/login/"),
    rate(
        "catalog_import",
        "CSV import of 100,000 eSIM profiles, preview then import, once (goal: 30 s or less)",
        catalog_import.measure,
        unit="rows/s",
        setup=catalog_import.setup,
    ),
    rate(
        "wallet_debits",
        "Wallet debits per second, 8 threads, PostgreSQL (goal: 0.5 of pgbench)",
        ledger.debits_measure,
        unit="debits/s",
        setup=ledger.debits_setup,
    ),
    rate(
        "wallet_balance_read",
        "Reading a wallet's balance with 1,000,000 postings on it (goal: 1 ms or less)",
        ledger.balance_measure,
        unit="reads/s",
        setup=ledger.seed_setup,
    ),
    rate(
        "trial_balance",
        "Trial balance over 1,000,000 postings (goal: 1 s or less)",
        ledger.trial_balance_measure,
        unit="trial balances/s",
        setup=ledger.seed_setup,
    ),
]
