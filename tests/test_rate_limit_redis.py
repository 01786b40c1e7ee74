"""Rate limits in Redis (RATELIMIT_STORAGE_URI), as production runs them with several processes."""

from __future__ import annotations

import socket

import pytest
import redis

from tests.conftest import make_test_app, service_missing
from tests.staff_helpers import make_staff, submit_password

REDIS = ("127.0.0.1", 6379)


@pytest.fixture
def redis_url():
    try:
        socket.create_connection(REDIS, timeout=2).close()
    except OSError:
        service_missing(f"Redis at {REDIS[0]}:{REDIS[1]} is not reachable: Redis test skipped")
    return f"redis://{REDIS[0]}:{REDIS[1]}/0"


def test_sign_in_limit_is_shared_by_two_app_processes_through_redis(
    database_url, tmp_path, redis_url
):
    # Two apps stand for two gunicorn workers sharing one Redis.
    first = make_test_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=redis_url)
    from survey.db import get_session

    with first.app_context():
        user, _, _ = make_staff(get_session(), "viewer")
        email = user.email
    second = make_test_app(database_url, tmp_path, RATELIMIT_STORAGE_URI=redis_url)
    clients = [first.test_client(), second.test_client()]
    statuses = [submit_password(clients[n % 2], email, f"fout {n}").status_code for n in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    # The counters really live in Redis, keyed without the address itself.
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).keys("LIMITS*")]
    assert any("account:" in key for key in keys), keys
    assert not any(email in key for key in keys)
    for app in (first, second):
        app.extensions["db_engine"].dispose()
