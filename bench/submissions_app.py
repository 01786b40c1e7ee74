"""The WSGI app of the submissions benchmark: the product as configured from the environment,
plus one bare endpoint on the same Flask app, the baseline.

    gunicorn -w 2 --chdir REPO bench.submissions_app:app

`create_app()` reads DATABASE_URL, SECRET_KEY, PUBLIC_BASE_URL… from the environment like a
production start does; gunicorn imports this module in each worker (no `--preload`), so every
worker has its own engine and pool. `POST /bench/insert` (CSRF-exempt) does exactly one INSERT
into `bench_insert` and a commit through the app's session and engine.

With BENCH_PROFILE_DIR set, each worker profiles its requests with cProfile (CPU time, one
profile per method and endpoint) and counts the SQL statements per endpoint; both are written to
that folder when the worker exits.
"""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import insert

from bench.submissions import BENCH_TABLE


def make_app() -> Flask:
    from survey import create_app
    from survey.db import get_session
    from survey.web.security import csrf

    app = create_app()

    @csrf.exempt
    def bench_insert() -> str:
        session = get_session()
        session.execute(insert(BENCH_TABLE).values(value=int(request.form.get("value", 0))))
        session.commit()
        return "ok\n"

    app.add_url_rule("/bench/insert", view_func=bench_insert, methods=["POST"])
    if os.environ.get("BENCH_PROFILE_DIR"):
        _profile(app, os.environ["BENCH_PROFILE_DIR"])
    return app


def _profile(app: Flask, folder: str) -> None:
    """cProfile every request and count SQL statements per endpoint; dump at worker exit."""
    import atexit
    import cProfile
    import json
    import time
    from collections import Counter, defaultdict

    from flask import has_request_context
    from sqlalchemy import event

    # CPU time, not wall time: the machine is saturated, so waiting says little.
    profilers: defaultdict[str, cProfile.Profile] = defaultdict(
        lambda: cProfile.Profile(time.process_time)
    )
    statements: Counter[str] = Counter()
    requests: Counter[str] = Counter()

    def kind(method: str, path: str) -> str:
        return f"{method} /{'bench' if path.startswith('/bench/') else path.split('/')[1]}"

    @event.listens_for(app.extensions["db_engine"], "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany) -> None:
        if has_request_context():
            verb = statement.split(None, 1)[0].upper()
            statements[f"{kind(request.method, request.path)} {verb}"] += 1

    inner = app.wsgi_app

    def profiled(environ, start_response):
        name = kind(environ["REQUEST_METHOD"], environ["PATH_INFO"])
        requests[name] += 1
        profiler = profilers[name]
        profiler.enable()
        try:
            return inner(environ, start_response)
        finally:
            profiler.disable()

    app.wsgi_app = profiled  # type: ignore[method-assign]

    def dump() -> None:
        pid = os.getpid()
        for name, profiler in profilers.items():
            file = name.replace(" /", "-").strip("-") or "index"
            profiler.dump_stats(os.path.join(folder, f"worker-{pid}-{file}.prof"))
        with open(os.path.join(folder, f"worker-{pid}.json"), "w") as out:
            json.dump({"requests": requests, "statements": statements}, out, indent=1)

    atexit.register(dump)


app = make_app()
