"""`python -m bench.run`: measure both baselines and every figure, print a table, write JSON.

DATABASE_URL must name a PostgreSQL on this machine that the harness may fill
(scripts/bench.sh starts a private one); PG_BIN locates pgbench. All load goes to 127.0.0.1
and every measurement lasts --duration seconds.
"""

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.figures import BenchContext, Figure

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BASE_DIR / "bench" / "results"
SETTINGS_MODULE = "bench.settings"
BARE_PATH = "/bench/bare"
LOOPBACK = "127.0.0.1"

PGBENCH_DB = "pgbench"
PGBENCH_SCALE = 10
PGBENCH_CLIENTS = 8
PGBENCH_THREADS = 2
GUNICORN_WORKERS = 2
WRK_THREADS = 2
WRK_CONNECTIONS = 16
WARMUP_REQUESTS = 20
STARTUP_TIMEOUT = 30


class MeasurementError(Exception):
    """A measurement could not be taken or is not trustworthy."""


@dataclass
class Result:
    name: str
    description: str
    unit: str
    kind: str
    baseline: str | None  # None for the baselines themselves
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    ratio: float | None = None


def log(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", flush=True)


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(cmd: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    """Runs a command to completion (killed after `timeout`); returns stdout and stderr."""
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=BASE_DIR
        )
    except subprocess.TimeoutExpired as exc:
        raise MeasurementError(f"{cmd[0]} did not finish within {timeout:.0f}s") from exc
    except FileNotFoundError as exc:
        raise MeasurementError(f"{cmd[0]} not found") from exc
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise MeasurementError(f"{' '.join(cmd)} exited {proc.returncode}:\n{tail(output)}")
    return output


# --- Baseline 1: pgbench -------------------------------------------------------------------
def pgbench_env() -> dict[str, str]:
    from django.conf import settings

    db = settings.DATABASES["default"]
    host = str(db.get("HOST") or "")
    # Load goes to this machine only: loopback TCP or a Unix socket directory.
    if host not in (LOOPBACK, "localhost", "::1") and not host.startswith("/"):
        raise MeasurementError(f"DATABASE_URL host {host!r} is not local; refusing to load it")
    env = {
        **os.environ,
        "PGHOST": host,
        "PGPORT": str(db.get("PORT") or 5432),
        "PGUSER": str(db.get("USER") or "postgres"),
        "PGDATABASE": PGBENCH_DB,
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def measure_pgbench(duration: int, result: Result) -> None:
    """Fills `result` with pgbench's TPC-B-like transactions per second."""
    from django.db import connection

    env = pgbench_env()
    # Its own database, so its tables never mix with the application's.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PGBENCH_DB])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{PGBENCH_DB}"')
    pgbench = str(Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")) / "pgbench")
    run([pgbench, "-i", "-q", "-s", str(PGBENCH_SCALE)], timeout=600, env=env)
    clients = ["-c", str(PGBENCH_CLIENTS), "-j", str(PGBENCH_THREADS)]
    # -n: no vacuum before the run; the initialisation has just done one.
    output = run([pgbench, "-n", *clients, "-T", str(duration)], timeout=duration + 120, env=env)
    tps = re.search(r"^tps = ([\d.]+)", output, re.MULTILINE)
    if tps is None:
        raise MeasurementError(f"no tps in pgbench output:\n{tail(output)}")
    failed = re.search(r"^number of failed transactions: (\d+)", output, re.MULTILINE)
    if failed and int(failed.group(1)):
        raise MeasurementError(f"pgbench: {failed.group(1)} failed transactions")
    result.value = float(tps.group(1))


# --- Baseline 2 and HTTP figures: gunicorn and wrk ----------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str) -> int:
    """Status of one GET, redirects not followed."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(workdir: Path) -> Iterator[int]:
    """A gunicorn serving the site with bench.settings on a free loopback port; yields it."""
    port = free_port()
    log_path = workdir / "gunicorn.log"
    cmd = [
        sys.executable, "-m", "gunicorn", "config.wsgi:application",
        "--workers", str(GUNICORN_WORKERS),
        "--bind", f"{LOOPBACK}:{port}",
        "--no-control-socket",
        "--log-level", "warning",  # and no access log: writing it would be measured too
        "--graceful-timeout", "5",
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE}
    with log_path.open("w") as log_file:
        # Own session: a Ctrl-C reaches this process, which stops gunicorn in order.
        proc = subprocess.Popen(
            cmd, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise MeasurementError(f"gunicorn exited:\n{tail(log_path.read_text())}")
            with contextlib.suppress(OSError):
                if http_get(port, BARE_PATH) == 200:
                    break
            if time.monotonic() > deadline:
                raise MeasurementError(f"gunicorn not answering:\n{tail(log_path.read_text())}")
            time.sleep(0.2)
        log(f"gunicorn ({GUNICORN_WORKERS} workers) on {LOOPBACK}:{port}, pid {proc.pid}")
        yield port
    finally:
        stop_process(proc)
        errors = log_path.read_text().strip()
        if errors:
            print(f"gunicorn log:\n{tail(errors)}", file=sys.stderr)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # gunicorn's graceful shutdown also stops its workers
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own process group: master and workers
        proc.wait()


def warm_up(port: int, path: str, expected_status: int) -> None:
    # Also the check that the URL serves what is meant to be measured, not an error page.
    for _ in range(WARMUP_REQUESTS):
        status = http_get(port, path)
        if status != expected_status:
            raise MeasurementError(f"GET {path} answered {status}, expected {expected_status}")


_LATENCY_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def measure_wrk(
    port: int,
    path: str,
    duration: int,
    result: Result,
    *,
    script: Path | None = None,
    args: Sequence[str] = (),
    method: str = "GET",
) -> str:
    """Fills `result` with the requests per second of wrk on http://127.0.0.1:port/path, which
    runs `script` with `args` if given; returns wrk's output."""
    url = f"http://{LOOPBACK}:{port}{path}"
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{duration}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script), url, "--", *args]
    else:
        cmd.append(url)
    output = run(cmd, timeout=duration + 60)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rps is None or requests is None:
        raise MeasurementError(f"cannot parse wrk output:\n{tail(output)}")
    result.details["requests"] = int(requests.group(1))
    result.details["latency_ms"] = {
        f"p{pct}": round(float(value) * _LATENCY_UNITS[unit], 3)
        for pct, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    problems = []
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        problems.append(f"{non_2xx.group(1)} responses with status >= 400")
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        kinds = ("connect", "read", "write", "timeout")
        counts = dict(zip(kinds, map(int, sockets.groups()), strict=True))
        result.details["socket_errors"] = counts
        problems += [f"{count} {kind} errors" for kind, count in counts.items() if count]
    if not int(requests.group(1)):
        problems.append("no request completed")
    if problems:
        raise MeasurementError(f"{method} {path}: {', '.join(problems)}")
    result.value = float(rps.group(1))
    return output


def measure_load(
    figure: "Figure", ctx: "BenchContext", port: int, bare_rps: float | None, result: Result
) -> None:
    """An HTTP figure with a Load: prepared, sent by its wrk script, checked."""
    from bench.figures import WrkRun

    load, path = figure.load, figure.path
    assert load is not None and path is not None
    args = load.prepare(ctx, port, bare_rps)
    output = measure_wrk(
        port, path, ctx.duration, result, script=load.script, args=args, method=load.method
    )
    assert result.value is not None
    run = WrkRun(requests=result.details["requests"], rate=result.value, output=output)
    result.value = None  # until checked
    measured = load.check(ctx, run)
    result.details.update(measured.details)
    if measured.note:
        log(f"{figure.name}: {measured.note}")
    result.value = measured.value


# --- The run ---------------------------------------------------------------------------------
def figure_result(figure: "Figure") -> Result:
    return Result(figure.name, figure.description, figure.unit, figure.kind, figure.baseline)


def attempt(
    result: Result, failures: list[str], measure: Callable[..., object], *args: Any
) -> None:
    """Runs one measurement; a failure is recorded on the result and does not stop the run."""
    try:
        measure(*args)
    except MeasurementError as exc:
        result.error = str(exc)
    except Exception:  # a figure's own code: keep its traceback
        result.error = traceback.format_exc()
    if result.error:
        result.value = None
        failures.append(result.name)
        print(f"FAILED {result.name}: {result.error}", file=sys.stderr, flush=True)
    elif result.value is not None:
        log(f"{result.name}: {result.value:.1f} {result.unit}")


def prepare(ctx: "BenchContext", figures: list["Figure"]) -> None:
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", interactive=False, verbosity=0)
    # The manifest storage (as in production) needs collected files to resolve {% static %}.
    call_command("collectstatic", interactive=False, verbosity=0)
    done = []
    for figure in figures:
        if figure.setup is not None and figure.setup not in done:
            log(f"setup for {figure.name}")
            figure.setup(ctx)
            done.append(figure.setup)
    connections.close_all()


def measure_all(ctx: "BenchContext", figures: list["Figure"]) -> tuple[list[Result], list[str]]:
    from django.db import connections

    failures: list[str] = []
    pg = Result(
        "pgbench_tps",
        f"pgbench TPC-B-like, scale {PGBENCH_SCALE}, {PGBENCH_CLIENTS} clients",
        "tps",
        "pgbench",
        None,
    )
    bare = Result(
        "django_bare_rps",
        f"Bare Django view through the middleware, gunicorn {GUNICORN_WORKERS} sync workers, "
        f"wrk {WRK_CONNECTIONS} connections",
        "req/s",
        "http",
        None,
    )
    results = {figure.name: figure_result(figure) for figure in figures}

    log(f"pgbench ({PGBENCH_CLIENTS} clients, {ctx.duration}s)")
    attempt(pg, failures, measure_pgbench, ctx.duration, pg)

    prepared = Result("prepare", "migrate, collectstatic, setups", "", "", None)
    attempt(prepared, failures, prepare, ctx, figures)
    if prepared.error:
        for result in [bare, *results.values()]:
            result.error = "not measured: migrate, collectstatic or a setup failed"
        return [pg, bare, *results.values()], failures

    # DB-bound callables right after pgbench, on a quiet machine (gunicorn not started yet).
    for figure in figures:
        if figure.measure is not None:
            log(f"{figure.name} ({ctx.duration}s)")
            result = results[figure.name]
            attempt(result, failures, measure_callable, figure, ctx, result)
    connections.close_all()

    http_figures = [figure for figure in figures if figure.path is not None]
    try:
        with gunicorn(ctx.workdir) as port:

            def measure_url(path: str, expected_status: int, result: Result) -> None:
                warm_up(port, path, expected_status)
                measure_wrk(port, path, ctx.duration, result)

            log(f"wrk {BARE_PATH} ({ctx.duration}s)")
            attempt(bare, failures, measure_url, BARE_PATH, 200, bare)
            for figure in http_figures:
                assert figure.path is not None
                result = results[figure.name]
                if figure.load is not None:
                    log(f"wrk {figure.load.method} {figure.path} ({ctx.duration}s)")
                    attempt(result, failures, measure_load, figure, ctx, port, bare.value, result)
                    continue
                log(f"wrk {figure.path} ({ctx.duration}s)")
                attempt(result, failures, measure_url, figure.path, figure.expected_status, result)
    except MeasurementError as exc:  # gunicorn did not start
        print(f"FAILED gunicorn: {exc}", file=sys.stderr, flush=True)
        failures.append("gunicorn")
        for result in [bare, *(results[figure.name] for figure in http_figures)]:
            if result.value is None and result.error is None:
                result.error = f"not measured: {exc}"

    baselines = {pg.name: pg.value, bare.name: bare.value}
    for result in results.values():
        base = baselines.get(result.baseline or "")
        if result.value is not None and base:
            result.ratio = result.value / base
    return [pg, bare, *results.values()], failures


def measure_callable(figure: "Figure", ctx: "BenchContext", result: Result) -> None:
    from bench.figures import Measurement

    assert figure.measure is not None
    measured = figure.measure(ctx)
    if isinstance(measured, Measurement):
        result.details.update(measured.details)
        if measured.note:
            log(f"{figure.name}: {measured.note}")
        measured = measured.value
    value = float(measured)
    if not value > 0:
        raise MeasurementError(f"measured {value}")
    result.value = value


# --- Report ----------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def software_versions() -> dict[str, str]:
    import django
    import gunicorn as gunicorn_package
    from django.db import connection

    versions = {"django": django.get_version(), "gunicorn": gunicorn_package.__version__}
    with contextlib.suppress(Exception), connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        versions["postgresql"] = cursor.fetchone()[0]
    return versions


def format_table(results: list[Result]) -> str:
    rows = [("figure", "value", "unit", "baseline", "ratio", "p99 ms")]
    for r in results:
        p99 = (r.details.get("latency_ms") or {}).get("p99")  # wrk's, for HTTP figures
        rows.append(
            (
                r.name,
                "FAILED" if r.value is None else f"{r.value:.1f}",
                r.unit,
                r.baseline or "(baseline)",
                "" if r.ratio is None else f"{r.ratio:.3f}",
                "" if p99 is None else f"{p99:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = (False, True, False, False, True, True)
    return "\n".join(
        "  ".join(
            cell.rjust(width) if align else cell.ljust(width)
            for cell, width, align in zip(row, widths, right, strict=True)
        ).rstrip()
        for row in rows
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--only", action="append", metavar="NAME", help="figure to measure")
    args = parser.parse_args(argv)
    if args.duration < 1:
        parser.error("--duration must be at least 1 second")
    if shutil.which("wrk") is None:
        parser.error("wrk not found (apt-get install wrk, or run scripts/bench.sh)")

    # Forced, not defaulted: a DJANGO_SETTINGS_MODULE left in the shell must not be measured.
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    own_workdir = "BENCH_WORK" not in os.environ
    workdir = Path(os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="simdesk-bench-"))
    os.environ.setdefault("BENCH_STATIC_ROOT", str(workdir / "static"))
    try:
        import django

        django.setup()
        from bench.figures import FIGURES, BenchContext

        known = [figure.name for figure in FIGURES]
        if len(set(known)) != len(known):
            parser.error(f"duplicate figure names in bench/figures.py: {known}")
        unknown = sorted(set(args.only or []) - set(known))
        if unknown:
            parser.error(f"unknown figure {', '.join(unknown)}; known: {', '.join(known)}")
        figures = [figure for figure in FIGURES if not args.only or figure.name in args.only]

        started_at = dt.datetime.now(dt.UTC)
        started = time.monotonic()
        machine = machine_info()
        ctx = BenchContext(duration=args.duration, workdir=workdir)
        results, failures = measure_all(ctx, figures)
        software = software_versions()
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(format_table(results))
    report = {
        "timestamp": started_at.isoformat(timespec="seconds"),
        "machine": machine,
        "software": software,
        "durations": {
            "measurement_seconds": args.duration,
            "total_seconds": round(time.monotonic() - started, 1),
        },
        "load": {
            "pgbench": {"scale": PGBENCH_SCALE, "clients": PGBENCH_CLIENTS},
            "wrk": {"threads": WRK_THREADS, "connections": WRK_CONNECTIONS},
            "gunicorn_workers": GUNICORN_WORKERS,
        },
        "baselines": {r.name: r.value for r in results if r.baseline is None},
        "figures": [
            {
                "name": r.name,
                "description": r.description,
                "kind": r.kind,
                "value": r.value,
                "unit": r.unit,
                "baseline": r.baseline,
                "ratio": r.ratio,
                "details": r.details,
                "error": r.error,
            }
            for r in results
            if r.baseline is not None
        ],
        "baseline_details": {
            r.name: {"description": r.description, "details": r.details, "error": r.error}
            for r in results
            if r.baseline is None
        },
        "failures": failures,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2) + "\n"
    path = RESULTS_DIR / f"{started_at:%Y%m%dT%H%M%SZ}.json"
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    print()
    log(f"results: {path.relative_to(BASE_DIR)} (and latest.json)")
    if failures:
        log(f"FAILED: {', '.join(failures)}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # gunicorn was stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
