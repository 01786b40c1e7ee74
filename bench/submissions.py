"""Submissions benchmark: families answering through gunicorn against a bare one-INSERT endpoint.

gunicorn serves `bench.submissions_app:app` with `--workers` sync workers (2, as in production) on
PostgreSQL. Product: `clients` concurrent client processes each take their share of `submissions`
fresh tokens and, for each, GET /s/<token> (200, the form), then POST what a browser would post
— the form's hidden fields (CSRF token, language), a mark for each required scale, sometimes the
optional scale, a comment and the quote consent — with the session cookie of the GET, and expect
the redirect to the thank-you page. Baseline (a fair limit, issue 21): the same clients do the same
exchange with a bare Flask app mounted at /bench on the same gunicorn workers and database
(bench/submissions_app.py): GET a form page with a CSRF token, POST a mark that is validated and
stored with one INSERT and one UPDATE in one transaction, redirect. Throughput is submissions over
the wall time of all clients; the ratio is product over baseline (medians of `runs` runs,
alternated). Because the clients share the machine's two cores with the server, the CPU the server
spends per answer (gunicorn's processes and the PostgreSQL backends, from /proc) is reported
beside the throughput. A burst run then lets `--burst` families (50) answer at once and reports
the 95th percentile of their GET + POST latency. Every answer must be stored: rows, mark sums and
the baseline's updates are checked.

    python -m bench.submissions DATABASE_URL --submissions 500 --clients 8
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import queue
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Column, Integer, MetaData, Table, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.common import (
    BENCH_MFA_KEY,
    BENCH_SECRET_KEY,
    children_of,
    insert_provider,
    process_peak_mb,
    record,
)

ROOT = Path(__file__).resolve().parent.parent
BENCH_METADATA = MetaData()
BENCH_TABLE = Table(
    "bench_insert",
    BENCH_METADATA,
    Column("id", Integer, primary_key=True),
    Column("value", Integer, nullable=False),
)
# The baseline's UPDATE: one row per form number, counting its answers.
TOKEN_TABLE = Table(
    "bench_token",
    BENCH_METADATA,
    Column("id", Integer, primary_key=True),
    Column("used", Integer, nullable=False, default=0),
)
BATCH = 5_000
APPLICATION_NAME = "ervaringswijzer-bench"  # marks the server's connections in pg_stat_activity
COMMENTS = (
    "De hulpverlener luisterde goed naar ons.",
    "Fijn dat we zelf mochten meebeslissen over de afspraken.",
    "Het duurde lang voordat de hulp begon, daarna ging het goed.",
    "Ik had graag vaker contact gehad.",
)
INPUT = re.compile(rb"<input\b([^>]*)>")
TEXTAREA = re.compile(rb"<textarea\b([^>]*)>")
ATTRIBUTE = re.compile(rb'([a-z_-]+)(?:="([^"]*)")?')


# ------------------------------------------------------------------------------------- setup


def fill(url: str, invitations: int, forms: int) -> list[str]:
    """Create the schema, `invitations` sent, answerable parent invitations (their tokens are
    returned) and the baseline's `forms` + 1 form rows (numbers 0 to `forms`)."""
    from survey.db import Base
    from survey.invitations.operations import hash_token, new_token
    from survey.models import Episode, Invitation, utcnow

    tokens = [new_token() for _ in range(invitations)]
    now = utcnow().replace(microsecond=0)
    ended = date.today() - timedelta(days=3)
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    BENCH_METADATA.drop_all(engine)
    Base.metadata.create_all(engine)
    BENCH_METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(TOKEN_TABLE), [{"id": n, "used": 0} for n in range(forms + 1)])
        insert_provider(connection)
        for start in range(0, invitations, BATCH):
            numbers = range(start + 1, min(invitations, start + BATCH) + 1)
            connection.execute(
                insert(Episode),
                [
                    {
                        "id": n,
                        "provider_id": 1,
                        "external_id": f"S{n}",
                        "end_date": ended,
                        "team": f"Team {n % 7}",
                        "municipality": f"Gemeente {n % 5}",
                        "care_type": "Begeleiding",
                        "youth_age": 15,
                        "language": "nl",
                        "imported_at": now,
                    }
                    for n in numbers
                ],
            )
            connection.execute(
                insert(Invitation),
                [
                    {
                        "id": n,
                        "episode_id": n,
                        "respondent_group": "parent",
                        "email": f"ouder{n}@example.org",
                        "language": "nl",
                        "token_hash": hash_token(tokens[n - 1]),
                        "created_at": now,
                        "invited_at": now,
                        "sent_at": now,
                        "expires_at": now + timedelta(days=28),
                    }
                    for n in numbers
                ],
            )
    engine.dispose()  # committed and closed: nothing holds a lock or a socket into the server
    return tokens


def stored(url: str) -> dict[str, int]:
    """What the database holds now: rows, answered invitations, mark sums, comments."""
    from survey.models import Comment, Invitation, Response, ResponseAnswer

    def answers(item: str, column: Any) -> Any:
        return select(column).where(ResponseAnswer.item_id == item)

    mark = func.coalesce(func.sum(ResponseAnswer.value_int), 0)
    engine = create_engine(url)
    with engine.connect() as connection:
        figures = {
            "responses": connection.scalar(select(func.count()).select_from(Response)),
            "answered": connection.scalar(
                select(func.count()).where(Invitation.responded_at.is_not(None))
            ),
            "opened": connection.scalar(
                select(func.count()).where(Invitation.opened_at.is_not(None))
            ),
            "baseline_rows": connection.scalar(select(func.count()).select_from(BENCH_TABLE)),
            "baseline_used": connection.scalar(
                select(func.coalesce(func.sum(TOKEN_TABLE.c.used), 0))
            ),
            "self_direction": connection.scalar(answers("self_direction", mark)),
            "usefulness": connection.scalar(answers("usefulness", mark)),
            "listened": connection.scalar(answers("listened", func.count())),
            "comment": connection.scalar(select(func.count()).select_from(Comment)),
            "consent": connection.scalar(
                select(func.count()).where(Comment.quote_status.is_not(None))
            ),
        }
    engine.dispose()
    return figures


# ------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, port: int, workers: int, log: Path, profile_dir: str | None):
    """gunicorn with sync workers, no preload (each worker builds its app and its pool)."""
    env = {k: v for k, v in os.environ.items() if k not in {"ERVARINGSWIJZER_DEMO", "FLASK_DEBUG"}}
    env.update(
        {
            "DATABASE_URL": make_url(url)
            .update_query_dict({"application_name": APPLICATION_NAME})
            .render_as_string(hide_password=False),
            "SECRET_KEY": BENCH_SECRET_KEY,
            "MFA_ENCRYPTION_KEY": BENCH_MFA_KEY,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "RATELIMIT_STORAGE_URI": "memory://",
            "TRUSTED_PROXIES": "0",
            "PYTHONPATH": str(ROOT),
        }
    )
    if profile_dir:
        env["BENCH_PROFILE_DIR"] = profile_dir
    command = [
        *(str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers)),
        *("--worker-class", "sync", "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)),
        *("--timeout", "120", "--graceful-timeout", "30", "--log-level", "warning"),
        *("--error-logfile", "-", "bench.submissions_app:app"),
    ]
    with log.open("ab") as out:  # a file, never an unread pipe
        server = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            if request(port, "GET", "/")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not answer in 90 s:\n{log.read_text()}")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# ------------------------------------------------------------------------------------ client


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a new connection (sync workers answer `Connection: close`)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def attributes(tag: bytes) -> dict[str, str]:
    return {k.decode(): (v or b"").decode() for k, v in ATTRIBUTE.findall(tag)}


def form_fields(page: bytes, rng: random.Random) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """What a browser posts after a family fills in the page, and the answers given.

    Hidden inputs as they are; one random value per radio group (always for a required one, half
    of the time for an optional one); a checkbox half of the time; a textarea two times in three.
    Submit buttons are left out: the send button has no name, the language button is not pressed.
    """
    fields: list[tuple[str, str]] = []
    radios: dict[str, tuple[list[str], bool]] = {}
    answers: dict[str, Any] = {}
    for match in INPUT.finditer(page):
        tag = attributes(match.group(1))
        kind, name = tag.get("type", "text"), tag.get("name")
        if not name:
            continue
        if kind == "hidden":
            fields.append((name, tag.get("value", "")))
        elif kind == "radio":
            values, required = radios.setdefault(name, ([], "required" in tag))
            values.append(tag["value"])
        elif kind == "checkbox" and rng.random() < 0.5:
            fields.append((name, tag.get("value", "on")))
            answers[name] = True
    for name, (values, required) in radios.items():
        if required or rng.random() < 0.5:
            answers[name] = int(value := rng.choice(values))
            fields.append((name, value))
    for match in TEXTAREA.finditer(page):
        name = attributes(match.group(1))["name"]
        if rng.random() < 2 / 3:
            answers[name] = text = rng.choice(COMMENTS)
            fields.append((name, text))
    return fields, answers


def submit(port: int, token: str, rng: random.Random, tally: dict) -> tuple[float, float]:
    """GET the questionnaire and POST its answers; returns the two latencies (seconds)."""
    path = f"/s/{token}"
    started = time.perf_counter()
    status, headers, page = request(port, "GET", path)
    got = time.perf_counter()
    if status != 200 or b'<form method="post"' not in page or b"csrf_token" not in page:
        raise AssertionError(f"GET {status}: {page[:200]!r}")
    cookies = [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []]
    if not cookies:
        raise AssertionError("GET set no session cookie")
    fields, answers = form_fields(page, rng)
    if "self_direction" not in answers or "usefulness" not in answers:
        raise AssertionError(f"form without the required scales: {sorted(answers)}")
    body = urlencode(fields).encode()
    status, headers, reply = request(
        port,
        "POST",
        path,
        body,
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(cookies)},
    )
    if status != 302 or "/bedankt" not in headers.get("Location", ""):
        raise AssertionError(f"POST {status} {headers.get('Location')}: {reply[:300]!r}")
    posted = time.perf_counter()
    tally["self_direction"] += answers["self_direction"]
    tally["usefulness"] += answers["usefulness"]
    tally["listened"] += "listened" in answers
    tally["comment"] += "comment" in answers
    tally["consent"] += "comment" in answers and bool(answers.get("quote_consent"))
    return got - started, posted - got


def answer_form(port: int, number: int, rng: random.Random) -> tuple[float, float]:
    """The baseline's exchange: GET the bare form, POST a mark (and sometimes a comment)."""
    path = f"/bench/form/{number}"
    started = time.perf_counter()
    status, headers, page = request(port, "GET", path)
    got = time.perf_counter()
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise AssertionError(f"GET {path} {status}: {page[:200]!r}")
    cookies = [c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or []]
    fields = [("csrf_token", token.group(1).decode()), ("mark", str(rng.randint(1, 10)))]
    if rng.random() < 2 / 3:
        fields.append(("comment", rng.choice(COMMENTS)))
    status, headers, reply = request(
        port,
        "POST",
        path,
        urlencode(fields).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "; ".join(cookies)},
    )
    if status != 302 or not headers.get("Location", "").endswith("/bench/thanks"):
        raise AssertionError(f"POST {path} {status}: {reply[:200]!r}")
    return got - started, time.perf_counter() - got


def client(port: int, kind: str, jobs: list, seed: int, barrier, results) -> None:
    """One client process: wait for the others, do its jobs, report times and a tally."""
    rng = random.Random(seed)
    tally = dict.fromkeys(("self_direction", "usefulness", "listened", "comment", "consent"), 0)
    errors: list[str] = []
    first: list[float] = []
    second: list[float] = []
    barrier.wait(timeout=300)
    cpu = os.times()
    started = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process
    for job in jobs:
        try:
            if kind == "product":
                get, post = submit(port, job, rng, tally)
            else:
                get, post = answer_form(port, job, rng)
            first.append(get)
            second.append(post)
        except (AssertionError, OSError, http.client.HTTPException) as error:
            errors.append(f"{type(error).__name__}: {error}"[:400])
    finished = time.monotonic()
    used = os.times()
    cpu_s = (used.user - cpu.user) + (used.system - cpu.system)
    results.put((started, finished, errors, first, second, tally, cpu_s))


def run_clients(port: int, kind: str, jobs: list, clients: int, seed: int) -> dict[str, Any]:
    """All clients at once over their shares of `jobs`; the wall time of the slowest."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients)
    results = context.Queue()
    processes = [
        context.Process(
            target=client,
            args=(port, kind, jobs[n::clients], seed * 1000 + n, barrier, results),
            daemon=True,
        )
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    reports = []
    while len(reports) < clients:
        try:
            reports.append(results.get(timeout=5))
        except queue.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a client process died (exit codes {dead})") from None
    for process in processes:
        process.join(timeout=60)
    tally: dict[str, int] = {}
    for report in reports:
        for key, value in report[5].items():
            tally[key] = tally.get(key, 0) + value
    first = [t for r in reports for t in r[3]]
    second = [t for r in reports for t in r[4]]
    whole = sorted(a + b for r in reports for a, b in zip(r[3], r[4], strict=True))
    return {
        "p95_ms": whole[int(0.95 * (len(whole) - 1))] * 1000 if whole else 0.0,
        "seconds": max(r[1] for r in reports) - min(r[0] for r in reports),
        "errors": [e for r in reports for e in r[2]],
        "first_ms": statistics.median(first) * 1000 if first else 0.0,
        "second_ms": statistics.median(second) * 1000 if second else 0.0,
        "client_cpu_s": sum(r[6] for r in reports),
        "tally": tally,
    }


def cpu_busy() -> tuple[int, int]:
    """Busy and total jiffies of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def backends(url: str) -> set[int]:
    """The PostgreSQL backends serving the server's connections (not other users of the host)."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
            {"name": APPLICATION_NAME},
        )
        found = set(pids)
    engine.dispose()
    return found


def cpu_seconds(server_pid: int, database_pids: set[int]) -> dict[int | str, float]:
    """CPU seconds used so far by gunicorn (master and workers), and by each given backend."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[int | str, float] = {"app": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" (", 1)
        except OSError:  # gone meanwhile
            continue
        values = rest.rsplit(") ", 1)[1].split()
        seconds = (int(values[11]) + int(values[12])) / tick
        if int(pid) == server_pid or int(values[1]) == server_pid:
            used["app"] += seconds
        elif int(pid) in database_pids:
            used[int(pid)] = seconds
    return used


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """gunicorn's and the backends' CPU seconds between two `cpu_seconds` readings."""
    database = sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items() if pid != "app")
    return {"app": after["app"] - before["app"], "db": database}


# -------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="a PostgreSQL URL (a schema of its own: see bench.run)")
    parser.add_argument("--submissions", type=int, default=500, help="per run")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--warmup", type=int, default=32, help="untimed submissions first")
    parser.add_argument("--profile-dir", help="cProfile each worker's requests into this folder")
    parser.add_argument(
        "--burst",
        type=int,
        default=50,
        help="families answering at once in the burst run (0: none)",
    )
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    if make_url(args.url).get_backend_name() != "postgresql":
        parser.error(
            "the submissions benchmark runs on PostgreSQL only: gunicorn with several workers "
            "on one SQLite file is not the production set-up"
        )
    m, runs, warm, burst = args.submissions, args.runs, args.warmup, args.burst
    tokens = fill(args.url, warm + m * runs + (m if burst else 0), max(warm, m))
    seen = {"product": [], "baseline": []}
    tally: dict[str, int] = {}
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "gunicorn.log"
        port = free_port()
        server = start_server(args.url, port, args.workers, log, args.profile_dir)
        try:
            # Untimed: every worker compiles its templates, loads its catalogues, fills its pool.
            for kind, jobs in (("product", tokens[:warm]), ("baseline", list(range(warm)))):
                result = run_clients(port, kind, jobs, args.clients, seed=0)
                errors += result["errors"]
            after_warmup = stored(args.url)
            for run in range(runs):  # alternated, so drift on a noisy machine hits both
                for kind in ("baseline", "product"):
                    if kind == "product":
                        jobs: list = tokens[warm + run * m : warm + (run + 1) * m]
                    else:
                        jobs = list(range(1, m + 1))
                    pids = backends(args.url)
                    before, spent = cpu_busy(), cpu_seconds(server.pid, pids)
                    result = run_clients(port, kind, jobs, args.clients, seed=run + 1)
                    busy, total = (a - b for a, b in zip(cpu_busy(), before, strict=True))
                    result["cpu_busy"] = busy / total if total else 0.0
                    spent = cpu_spent(spent, cpu_seconds(server.pid, pids | backends(args.url)))
                    for part, seconds in spent.items():
                        result[f"{part}_cpu_ms"] = seconds / m * 1000
                    result["client_cpu_ms"] = result["client_cpu_s"] / m * 1000
                    errors += result["errors"]
                    seen[kind].append(result)
                    if kind == "product":
                        for key, value in result["tally"].items():
                            tally[key] = tally.get(key, 0) + value
                    print(
                        f"[bench] submissions run {run + 1} {kind}: {m / result['seconds']:.1f}/s"
                        f" ({result['seconds']:.2f} s), median latency"
                        f" {result['first_ms']:.1f} + {result['second_ms']:.1f} ms (p95"
                        f" {result['p95_ms']:.0f} ms); machine CPU busy"
                        f" {result['cpu_busy']:.0%}; CPU per"
                        f" submission: gunicorn {result['app_cpu_ms']:.1f} ms, PostgreSQL"
                        f" {result['db_cpu_ms']:.1f} ms, clients {result['client_cpu_ms']:.1f}"
                        f" ms; errors {len(result['errors'])}",
                        flush=True,
                    )
            burst_result: dict[str, Any] = {}
            if burst:  # `burst` families at once: how long does the slowest twentieth wait?
                jobs = tokens[warm + m * runs :]
                burst_result = run_clients(port, "product", jobs, burst, seed=99)
                errors += burst_result["errors"]
                for key, value in burst_result["tally"].items():
                    tally[key] = tally.get(key, 0) + value
                print(
                    f"[bench] submissions burst of {burst} families: p95 GET + POST"
                    f" {burst_result['p95_ms']:.0f} ms, median {burst_result['first_ms']:.0f} +"
                    f" {burst_result['second_ms']:.0f} ms;"
                    f" {len(jobs) / burst_result['seconds']:.1f}/s",
                    flush=True,
                )
            worker_peak = max(process_peak_mb(pid) for pid in children_of(server.pid))
        finally:
            stop_server(server)
            problems = [
                line
                for line in log.read_text().splitlines()
                if "[ERROR]" in line or "[CRITICAL]" in line
            ]
    for line in errors[:10] + problems[:10]:
        print(f"[bench] submissions error: {line}", file=sys.stderr)
    assert not errors, f"{len(errors)} failed requests"
    assert not problems, f"gunicorn logged {len(problems)} errors"
    final = stored(args.url)
    new = {key: final[key] - after_warmup[key] for key in final}
    answered = m * runs + (m if burst else 0)
    assert new["responses"] == answered, (new["responses"], answered)
    assert new["answered"] == new["opened"] == answered, (new, answered)
    assert new["baseline_rows"] == new["baseline_used"] == m * runs, (new, m * runs)
    assert final["responses"] == final["answered"] == final["opened"] == warm + answered, final
    for key, value in tally.items():  # every mark, optional answer and comment arrived
        assert new[key] == value, (key, new[key], value)

    product_s = statistics.median(r["seconds"] for r in seen["product"])
    baseline_s = statistics.median(r["seconds"] for r in seen["baseline"])
    median = statistics.median
    record(
        f"submissions{args.label}",
        ratio=baseline_s / product_s,  # throughput ratio: product rps over baseline rps
        target=">= 0.5",
        baseline_s=baseline_s,
        product_s=product_s,
        submissions=m,
        clients=args.clients,
        workers=args.workers,
        runs=runs,
        errors=len(errors),
        stored=new["responses"],
        peak_mb=worker_peak,  # the largest gunicorn worker
        product_rps=m / product_s,
        baseline_rps=m / baseline_s,
        get_ms=median(r["first_ms"] for r in seen["product"]),
        post_ms=median(r["second_ms"] for r in seen["product"]),
        baseline_get_ms=median(r["first_ms"] for r in seen["baseline"]),
        baseline_post_ms=median(r["second_ms"] for r in seen["baseline"]),
        p95_ms=median(r["p95_ms"] for r in seen["product"]),
        baseline_p95_ms=median(r["p95_ms"] for r in seen["baseline"]),
        burst_families=burst,
        burst_p95_ms=burst_result.get("p95_ms", 0.0),
        cpu_busy=median(r["cpu_busy"] for r in seen["product"]),
        **{
            f"{kind}_{part}_cpu_ms": median(r[f"{part}_cpu_ms"] for r in seen[kind])
            for kind in ("product", "baseline")
            for part in ("app", "db")
        },
        backend="postgresql",
    )


if __name__ == "__main__":
    sys.exit(main())
