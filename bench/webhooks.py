"""Figure `webhook_events`: signed webhook events acknowledged per second over HTTP.

The goal (issue #5, payments): with gunicorn's 2 sync workers, 0.3 or more of the bare view's
rate (`django_bare_rps`) and 1,000 events per second or more.

- setup: PAYMENTS pending sandbox top-ups, opened through `topup_start` as a customer's are.
- Right before the measurement, gunicorn up: checkout.session.completed events about those
  payments in turn, each new (its own event id), signed now with Stripe's scheme and
  settings.SANDBOX_WEBHOOK_SECRET (the tolerance is 300 s; the run takes seconds), one a line
  of a file in the scratch directory. Enough for the run at 1.5 times the bare view's rate,
  which no figure reaches, so no event is sent twice. WARM_UP_EVENTS of them go first,
  one by one, each to be answered 200 "ok".
- wrk (`webhooks.lua`, the same threads and connections as every HTTP figure) POSTs the lines
  to /pay/webhooks/sandbox/, each once, and counts the answers.
- The endpoint verifies, stores a GatewayEvent and, after commit, asks for a drain task: one
  SET NX in the shared Redis cache, and a Celery message to Redis (the broker of production;
  scripts/bench.sh starts one, without REDIS_URL the figure refuses to run) only when no drain
  is already queued. No worker runs: processing is not measured, the acknowledgement is.
- Checked afterwards: every answer was 2xx "ok" (none "duplicate", nothing else), no line
  was sent twice, at least one new GatewayEvent row per acknowledgement, and a drain task in
  the queue for them. The queue is then emptied.
"""

import http.client
import json
import math
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # bench.figures imports this module
    from redis import Redis

    from bench.figures import BenchContext, Measurement, WrkRun
    from billing.models import Payment

PATH = "/pay/webhooks/sandbox/"
SCRIPT = Path(__file__).with_name("webhooks.lua")
FILE_NAME = "webhook-events.txt"
EVENT_TYPE = "checkout.session.completed"

CUSTOMERS = 20
PAYMENTS_PER_CUSTOMER = 10
PAYMENTS = CUSTOMERS * PAYMENTS_PER_CUSTOMER
CUSTOMER_EMAIL = "bench-webhooks-{index}@example.com"
AMOUNT = Decimal("50.00")
CURRENCY = "USD"
SITE = "http://127.0.0.1"

WARM_UP_EVENTS = 20
HEADROOM = 1.5  # events prepared: the run's duration at this many times the bare view's rate
FALLBACK_RATE = 5_000  # events/s to prepare for when the bare view was not measured
SETTLE_SECONDS = 10  # for the requests still in flight when wrk stops to be stored and queued
GOAL_RATIO = 0.3
GOAL_RATE = 1_000

RESULT_LINE = (
    r"^webhook_events: prepared (?P<prepared>\d+), sent (?P<sent>\d+), "
    r"acknowledged (?P<acknowledged>\d+), duplicate (?P<duplicate>\d+), other (?P<other>\d+)$"
)


def setup(ctx: "BenchContext") -> None:
    """PAYMENTS pending top-ups at the sandbox gateway, CUSTOMERS customers."""
    from django.conf import settings
    from djmoney.money import Money

    from accounts.models import User
    from billing.models import Payment
    from billing.services.topups import topup_start

    if settings.STRIPE_SECRET_KEY:
        raise RuntimeError("bench.settings must leave Stripe off: the events are the sandbox's")
    for index in range(CUSTOMERS):
        customer = User.objects.create_user(CUSTOMER_EMAIL.format(index=index))
        for _ in range(PAYMENTS_PER_CUSTOMER):
            topup_start(
                customer=customer,
                amount=Money(AMOUNT, CURRENCY),
                method=Payment.Method.SANDBOX,
                request_token=uuid.uuid4(),
                return_url=lambda payment: f"{SITE}/wallet/",
                cancel_url=f"{SITE}/wallet/",
                webhook_url=f"{SITE}{PATH}",
            )


class WebhookLoad:
    """The figure's Load (see bench.figures): makes the events, then checks the run."""

    script = SCRIPT
    method = "POST"

    def __init__(self) -> None:
        self._stored_before = 0
        self._queued_before = 0
        self._prepared = 0
        self._bare_rps: float | None = None

    def prepare(self, ctx: "BenchContext", port: int, bare_rps: float | None) -> list[str]:
        from bench.run import WRK_THREADS, MeasurementError

        broker = _broker()
        rate = bare_rps or FALLBACK_RATE
        events = math.ceil(ctx.duration * rate * HEADROOM)
        started = time.perf_counter()
        lines = _signed_events(WARM_UP_EVENTS + events)
        file = ctx.workdir / FILE_NAME
        file.write_text("".join(lines[WARM_UP_EVENTS:]), encoding="utf-8")
        signing = time.perf_counter() - started
        print(f"signed {events:,} events in {signing:.1f} s", flush=True)

        _drain_reset(broker)
        for line in lines[:WARM_UP_EVENTS]:
            header, body = line.rstrip("\n").split("\t", 1)
            status, answer = _post(port, body.encode(), header)
            if (status, answer) != (200, b"ok"):
                raise MeasurementError(f"POST {PATH} answered {status} {answer[:200]!r}")
        # The first acknowledged event queued a drain after commit; the others found it queued.
        warm_queued = broker.llen(_queue())
        if warm_queued != 1:
            raise MeasurementError(
                f"{WARM_UP_EVENTS} events acknowledged but {warm_queued} drain tasks queued"
            )
        _drain_reset(broker)  # the run must queue its own
        self._stored_before = _stored()
        self._queued_before = 0
        self._prepared = events
        self._bare_rps = bare_rps
        return [str(file), str(WRK_THREADS)]

    def check(self, ctx: "BenchContext", run: "WrkRun") -> "Measurement":
        import re

        from bench.figures import Measurement
        from bench.run import MeasurementError

        broker = _broker()
        totals = re.search(RESULT_LINE, run.output, re.MULTILINE)
        if totals is None:
            raise MeasurementError(f"no totals from {SCRIPT.name} in wrk's output")
        counts = {name: int(value) for name, value in totals.groupdict().items()}
        stored, queued = self._settle(broker)
        broker.delete(_queue())  # nobody will process them
        problems = []
        if counts["prepared"] != self._prepared:
            problems.append(f"wrk read {counts['prepared']} events of {self._prepared}")
        if counts["sent"] > counts["prepared"]:  # the threads started their lines again
            problems.append(f"{counts['sent']} events sent of {counts['prepared']} prepared")
        if counts["duplicate"] or counts["other"]:
            problems.append(
                f"{counts['duplicate']} answered duplicate, {counts['other']} not 2xx ok"
            )
        if counts["acknowledged"] != run.requests:
            problems.append(f"{counts['acknowledged']} ok of {run.requests} responses")
        if stored < counts["acknowledged"]:
            problems.append(f"{stored} events stored for {counts['acknowledged']} acknowledged")
        if stored and not queued:
            problems.append(f"{stored} events stored but no drain task queued")
        if problems:
            raise MeasurementError(f"POST {PATH}: {', '.join(problems)}")

        seconds = counts["acknowledged"] / run.rate
        ratio = f"{run.rate / self._bare_rps:.2f}" if self._bare_rps else "unknown"
        return Measurement(
            value=run.rate,
            details={
                "events_prepared": counts["prepared"],
                "events_acknowledged": counts["acknowledged"],
                "events_stored": stored,
                "tasks_queued": queued,
                "seconds": round(seconds, 2),
                "goal_ratio": GOAL_RATIO,
                "goal_events_per_second": GOAL_RATE,
            },
            note=(
                f"{counts['acknowledged']:,} new events acknowledged in {seconds:.1f} s, "
                f"{run.rate:,.0f}/s; {stored:,} stored, {queued:,} drain task(s) queued in Redis "
                f"(goal: {GOAL_RATE:,}/s or more, and {GOAL_RATIO:g} or more of django_bare_rps: "
                f"{ratio})"
            ),
        )

    def _settle(self, broker: "Redis") -> tuple[int, int]:
        """New events stored and tasks queued, once the requests in flight are done."""
        deadline = time.monotonic() + SETTLE_SECONDS
        last = (-1, -1)
        while True:
            now = (_stored() - self._stored_before, broker.llen(_queue()) - self._queued_before)
            if now == last or time.monotonic() > deadline:
                return now
            last = now
            time.sleep(0.2)


LOAD = WebhookLoad()


def _broker() -> "Redis":
    """The Celery broker, which must be a Redis that answers."""
    import redis
    from django.conf import settings

    from bench.run import MeasurementError

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        raise MeasurementError(
            f"the Celery broker is {url or 'not set'}: webhook_events needs Redis, as in "
            "production; set REDIS_URL (scripts/bench.sh starts one)"
        )
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise MeasurementError(f"the Celery broker {url} does not answer: {exc}") from exc
    return client


def _drain_reset(broker: "Redis") -> None:
    """An empty queue and no drain pending, so the next event must queue one."""
    from django.core.cache import cache

    from billing.services.webhooks import DRAIN_KEY

    broker.delete(_queue())
    cache.delete(DRAIN_KEY)


def _queue() -> str:
    from config.celery_app import app

    return str(app.conf.task_default_queue)


def _stored() -> int:
    from billing.models import GatewayEvent

    return GatewayEvent.objects.count()


def _signed_events(count: int) -> list[str]:
    """`count` new events about the seeded payments in turn, signed now, one a line."""
    from django.conf import settings

    from billing.gateways.signing import signature_header
    from billing.models import Payment
    from billing.money import to_minor_units

    payments = list(
        Payment.objects.filter(
            customer__email__startswith="bench-webhooks-", status=Payment.Status.PENDING
        ).order_by("pk")
    )
    if len(payments) != PAYMENTS:
        raise RuntimeError(f"{len(payments)} pending payments seeded, expected {PAYMENTS}")
    sessions = [_session(payment, to_minor_units(payment.amount_money)) for payment in payments]
    secret = settings.SANDBOX_WEBHOOK_SECRET
    run = uuid.uuid4().hex[:12]  # event ids unique across runs on the same database too
    now = int(time.time())
    lines = []
    for n in range(count):
        event = {
            "id": f"evt_bench_{run}_{n:08d}",
            "object": "event",
            "type": EVENT_TYPE,
            "created": now,
            "livemode": False,
            "data": {"object": sessions[n % len(sessions)]},
        }
        body = json.dumps(event, separators=(",", ":"))
        lines.append(f"{signature_header(body.encode(), secret, now)}\t{body}\n")
    return lines


def _session(payment: "Payment", minor: int) -> dict[str, Any]:
    """The Checkout Session of a paid sandbox payment, as the sandbox's events carry it."""
    return {
        "id": payment.gateway_payment_id.replace("sbx_pi", "sbx_cs"),
        "object": "checkout.session",
        "client_reference_id": str(payment.public_id),
        "payment_intent": payment.gateway_payment_id,
        "payment_status": "paid",
        "amount_total": minor,
        "currency": payment.currency.lower(),
        "customer": payment.gateway_customer_id,
        "metadata": {"payment": str(payment.public_id)},
    }


def _post(port: int, body: bytes, signature: str) -> tuple[int, bytes]:
    from bench.run import LOOPBACK
    from billing.gateways.signing import SIGNATURE_HEADER

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        conn.request("POST", PATH, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
