"""gunicorn settings for Ervaringswijzer behind nginx (README.md, "Production").

    gunicorn -c /etc/ervaringswijzer/gunicorn.conf.py 'survey:create_app()'

Everything that differs per installation comes from the environment (/etc/ervaringswijzer/env,
see deploy/env.example): GUNICORN_BIND, WEB_CONCURRENCY, RATELIMIT_STORAGE_URI. Before any
worker starts, `on_starting` refuses several workers with per-process rate-limit counters.
"""

from __future__ import annotations

import os
import sys

# Where nginx finds the app (@UPSTREAM@ in deploy/nginx/ervaringswijzer.conf). Loopback only:
# nginx is the one way in.
bind = [os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"]

# Sync workers: each request has a process of its own for its length. About 130 MB each; two
# serve a region (README, Benchmarks). More than one needs RATELIMIT_STORAGE_URI=redis://….
workers = int(os.environ.get("WEB_CONCURRENCY") or "2")
worker_class = "sync"
# Each worker builds its own app and database pool (no preload: connections are never shared
# across a fork).
preload_app = False

# A request that takes longer than this (the slowest: an Excel or PNG export) is killed; nginx
# waits 65 s. Workers get 30 s to finish their requests on a restart.
timeout = 60
graceful_timeout = 30
keepalive = 5

# nginx on this machine is the only proxy whose X-Forwarded-* headers count (the app itself
# reads them through TRUSTED_PROXIES=1).
forwarded_allow_ips = "127.0.0.1"

# Logs to stdout/stderr: the systemd journal keeps them. The access-log line has the method and
# the path without the query string (%(U)s, never %(r)s), status, size, seconds and the worker's
# pid. The app's logging filter (survey.web.security.RedactTokens) turns the token in survey and
# opt-out paths into [token]; it redacts the values of this format, so only plain atoms are used
# here (a header atom such as %({x-forwarded-for}i)s would break it when the header is absent).
# The client's address is in nginx's access log.
accesslog = "-"
errorlog = "-"
loglevel = "info"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s %(p)s'

# Newer gunicorn versions open a control socket (for `gunicornc`) in $HOME: not needed here.
control_socket_disable = True


def on_starting(server) -> None:  # server: gunicorn's Arbiter
    """Refuse to start several workers that would each count sign-in attempts on their own."""
    from survey.config import ConfigError, check_web_workers

    storage = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
    try:
        check_web_workers(server.cfg.workers, storage)
    except ConfigError as problem:
        server.log.error("Ervaringswijzer will not start: %s", problem)
        sys.exit(1)
