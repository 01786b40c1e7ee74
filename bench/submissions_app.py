"""The WSGI app of the submissions benchmark: the product as configured from the environment,
and under /bench a bare Flask app on the same gunicorn workers and database, the baseline.

    gunicorn -w 2 --chdir REPO bench.submissions_app:app

`create_app()` reads DATABASE_URL, SECRET_KEY, PUBLIC_BASE_URL… from the environment like a
production start does; gunicorn imports this module in each worker (no `--preload`), so every
worker has its own engine and pool.

The baseline (issue 21: a fair limit for a form page and an answer) is the least a Flask app
must do for the same exchange: `GET /bench/form/<n>` renders a one-question form with a CSRF
token (Flask-WTF, the session cookie), `POST /bench/form/<n>` checks the token, validates the
mark (WTForms) and stores it with one INSERT (`bench_insert`) and one UPDATE (`bench_token`, as
the product marks its invitation answered), in one transaction, then redirects. None of the
product's hooks (security headers, language, access checks) run for it.

With BENCH_PROFILE_DIR set, each worker profiles its requests with cProfile (CPU time, one
profile per method and endpoint) and counts the SQL statements per endpoint; both are written to
that folder when the worker exits.
"""

from __future__ import annotations

import os

from flask import Flask, redirect, render_template, request
from flask_wtf import CSRFProtect, FlaskForm
from sqlalchemy import insert, update
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response
from wtforms import IntegerField, TextAreaField
from wtforms.validators import InputRequired, NumberRange, Optional

from bench.submissions import BENCH_TABLE, TOKEN_TABLE

FORM_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Vraag</title></head>
<body><form method="post">{{ form.csrf_token }}
<fieldset><legend>Cijfer</legend>
{% for n in range(1, 11) %}<input type="radio" name="mark" value="{{ n }}" required>{% endfor %}
</fieldset><textarea name="comment"></textarea><button>Versturen</button></form></body></html>
"""


class MarkForm(FlaskForm):
    mark = IntegerField(validators=[InputRequired(), NumberRange(1, 10)])
    comment = TextAreaField(validators=[Optional()])


def make_bare(database_url: str, secret_key: str) -> Flask:
    """The baseline: a bare Flask app that serves a form and stores one answer."""
    from survey.db import make_engine

    bare = Flask("bench_baseline")
    bare.config.update(SECRET_KEY=secret_key, WTF_CSRF_TIME_LIMIT=None)
    CSRFProtect(bare)
    engine = make_engine(database_url)
    page_template = bare.jinja_env.from_string(FORM_PAGE)  # compiled once, as a file would be

    @bare.route("/form/<int:number>", methods=["GET", "POST"])
    def form(number: int) -> str | Response:
        page = MarkForm()
        if page.validate_on_submit():
            with engine.begin() as connection:
                connection.execute(insert(BENCH_TABLE).values(value=page.mark.data))
                connection.execute(
                    update(TOKEN_TABLE)
                    .where(TOKEN_TABLE.c.id == number)
                    .values(used=TOKEN_TABLE.c.used + 1)
                )
            return redirect("/bench/thanks")
        return render_template(page_template, form=page)

    return bare


def make_app() -> Flask:
    from survey import create_app

    app = create_app()
    bare = make_bare(app.config["DATABASE_URL"], app.config["SECRET_KEY"])
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/bench": bare})  # type: ignore[method-assign]
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
