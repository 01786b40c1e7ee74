"""`make run`, the README's first command: migrate, load the demo, serve a working survey."""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.pages import csrf_token, text_of
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_serves_the_demo_with_a_working_survey_link(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
        "PUBLIC_BASE_URL": base,
        "MAIL_FILE_DIR": str(tmp_path / "outbox"),
    }
    env.pop("SECRET_KEY", None)
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True)
    reader.start()
    output: list[str] = []
    try:
        youth_link = None
        deadline = time.monotonic() + 240
        while youth_link is None and time.monotonic() < deadline and process.poll() is None:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            output.append(line)
            match = re.search(rf"Open as a youth:\s+({re.escape(base)}/s/\S+)", line)
            youth_link = match.group(1) if match else None
        assert youth_link, "".join(output)
        page = None
        while time.monotonic() < deadline:
            try:
                page = requests.get(youth_link, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert page is not None and page.status_code == 200, "".join(output)
        assert "verzonnen" in text_of(page.text)  # every page says it is demo data
        answer = requests.post(
            youth_link,
            data={"csrf_token": csrf_token(page.text), "self_direction": "9", "usefulness": "8"},
            cookies=page.cookies,
            timeout=10,
        )
        assert answer.status_code == 200 and "Bedankt" in text_of(answer.text)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=10)
        process.stdout.close()
