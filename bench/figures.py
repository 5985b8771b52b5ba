"""The figures of `make bench`: one line each in FIGURES.

Every figure is reported as a ratio to a baseline measured in the same run, because the
machines are noisy 2-core boxes where absolute rates move with the neighbours:

- `http(...)`: requests per second of a GET on the gunicorn server, measured with wrk exactly
  like the bare Django view, compared to DJANGO_BARE_RPS. With a `load` (see `Load`), wrk
  runs the figure's Lua script instead, e.g. to POST requests prepared right before.
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
from typing import Any, Literal, Protocol

from bench import catalog_import, ledger, orders, renewals, storefront, webhooks

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
class WrkRun:
    """What wrk reported for a figure with a `Load`."""

    requests: int  # responses received in the run, whatever their status
    rate: float  # wrk's requests per second
    output: str  # wrk's whole output, including what the script's done() wrote


class Load(Protocol):
    """What wrk sends for an HTTP figure that is not a plain GET.

    `prepare` runs right before the measurement, with gunicorn up on `port`: it makes the
    requests (fresh ones: signed now, say), warms the server up itself, checking the answers,
    and returns the arguments of `script`. `bare_rps` is the bare view's rate in this run (None
    if it failed): no figure is faster, so it sizes what to prepare. After wrk, which fails the
    figure on any status of 400 or more or socket error, `check` raises if the run did not
    measure what it should and returns the figure's value.
    """

    script: Path  # a wrk Lua script
    method: str  # for messages

    def prepare(self, ctx: BenchContext, port: int, bare_rps: float | None) -> list[str]: ...

    def check(self, ctx: BenchContext, run: WrkRun) -> Measurement: ...


@dataclass(frozen=True)
class Figure:
    name: str
    description: str
    baseline: Baseline
    unit: str
    path: str | None = None  # HTTP figure: URL path on the gunicorn server
    load: Load | None = None  # HTTP figure sending more than GETs of `path`
    measure: Measure | None = None  # callable figure: returns a rate per second (or Measurement)
    setup: Hook | None = None
    expected_status: int = 200  # checked while warming up, so a redirect is not measured

    def __post_init__(self) -> None:
        if (self.path is None) == (self.measure is None):
            raise ValueError(f"figure {self.name}: give exactly one of path and measure")
        if self.load is not None and self.path is None:
            raise ValueError(f"figure {self.name}: a load needs a path")

    @property
    def kind(self) -> str:
        return "http" if self.path is not None else "callable"


def http(
    name: str,
    description: str,
    path: str,
    *,
    setup: Hook | None = None,
    expected_status: int = 200,
    load: Load | None = None,
    unit: str = "req/s",
) -> Figure:
    return Figure(
        name,
        description,
        DJANGO_BARE_RPS,
        unit,
        path=path,
        load=load,
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
    http(
        "country_page",
        "Country page (Japan), anonymous visitor, ~1,000 plans in 100 countries "
        "(goal: 0.6 of the bare view, p99 50 ms or less at 16 connections)",
        storefront.COUNTRY_PATH,
        setup=storefront.setup,
    ),
    http(
        "plan_page",
        "Plan page (a Japan plan), anonymous visitor, ~1,000 plans in 100 countries "
        "(goal: 0.6 of the bare view, p99 50 ms or less at 16 connections)",
        storefront.PLAN_PATH,
        setup=storefront.setup,
    ),
    http(
        "webhook_events",
        "Signed webhook events acknowledged: new events POSTed, each task queued in Redis "
        "(goal: 0.3 of the bare view, and 1,000/s or more)",
        webhooks.PATH,
        load=webhooks.LOAD,
        unit="events/s",
        setup=webhooks.setup,
    ),
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
        "wallet_checkouts",
        "eSIM checkouts paid from the wallet (order, payment, profile, bundle), 8 threads, "
        "PostgreSQL (goal: 0.25 of pgbench)",
        orders.measure,
        unit="checkouts/s",
        setup=orders.setup,
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
    rate(
        "auto_renewals",
        "Auto-renewal sweep over 10,000 due cards paid from wallets, a Celery worker with 2 "
        "processes, once (goal: 60 s or less)",
        renewals.measure,
        unit="renewals/s",
        setup=renewals.setup,
    ),
]
