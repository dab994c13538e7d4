"""pytest suite for recording_proxy.py, in front of the emulator (real processes, port 0).

    python3 -m pytest -q tools/test-zulip/test_recording_proxy.py
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from test_emulator import BOT_KEY, ApiClient, Emulator, run_async

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "recording_proxy.py")


class Proxy(ApiClient):
    def __init__(self, tmpdir, upstream):
        self.port_file = os.path.join(tmpdir, "proxy-port")
        self.log_path = os.path.join(tmpdir, "proxy-requests.jsonl")
        self.out = open(os.path.join(tmpdir, "proxy-stdout.txt"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, PROXY, "--upstream", upstream, "--port", "0",
             "--port-file", self.port_file, "--request-log", self.log_path],
            stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.port_file):
            assert self.proc.poll() is None, "proxy exited early"
            assert time.monotonic() < deadline, "proxy did not write its port file"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(open(self.port_file).read())}"

    def entries(self, **match):
        return [e for e in self.control("GET", "/requests?after=0")["requests"]
                if all(e.get(k) == v for k, v in match.items())]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            assert self.proc.wait(timeout=5) == 0
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.out.close()


@pytest.fixture
def pair(tmp_path):
    emu = Emulator(str(tmp_path), "--heartbeat", "30")
    proxy = Proxy(str(tmp_path), emu.url)
    yield emu, proxy
    proxy.stop()
    emu.stop()


def wait_for(condition, timeout=5):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_forwards_and_records_without_the_key(pair):
    emu, proxy = pair
    status, headers, body = proxy.api("GET", "/users/me")
    assert status == 200 and body["email"] == "bot@example.com"
    assert headers["X-RateLimit-Limit"] == "200"
    status, _, body = proxy.api("POST", "/register", {"event_types": ["message"]})
    assert status == 200
    (me,) = proxy.entries(path="/api/v1/users/me")
    assert me["user_email"] == "bot@example.com" and me["status"] == 200
    assert me["response"]["email"] == "bot@example.com"
    (reg,) = proxy.entries(path="/api/v1/register")
    assert reg["form"] == {"event_types": '["message"]'} and reg["response"]["queue_id"]
    log = open(proxy.log_path).read()
    assert BOT_KEY not in log and "Authorization" not in log
    # The emulator saw the same calls.
    assert [e["path"] for e in emu.control("GET", "/requests?after=0")["requests"]] == [
        "/api/v1/users/me", "/api/v1/register"]


def test_hold_cuts_a_long_poll_and_release_sends_it_again(pair):
    emu, proxy = pair
    q = proxy.register()
    pending = run_async(proxy.poll, q["queue_id"], -1, timeout=30)
    emu.wait_poller(q["queue_id"])
    held = proxy.control("POST", "/hold", {"method": "GET", "path": "/api/v1/events"})
    assert held["cut"] == 1
    sent = emu.control("POST", "/send", {"from": "bot@example.com", "content": "in the gap"})
    time.sleep(0.3)
    # Still held: the event is queued on the server, the client has no answer.
    assert [q2["pending_events"] for q2 in emu.control("GET", "/queues")["queues"]] == [1]
    proxy.control("POST", "/release")
    status, _, body = pending(timeout=10)
    assert status == 200 and [e["message"]["id"] for e in body["events"]] == [sent["id"]]
    (entry,) = proxy.entries(path="/api/v1/events")
    assert entry["cut"] is True and entry["held"] is True


def test_swallow_keeps_the_client_waiting_and_loses_nothing(pair):
    emu, proxy = pair
    q = proxy.register()
    emu.control("POST", "/send", {"from": "bot@example.com", "content": "answered, not delivered"})
    proxy.control("POST", "/swallow", {"count": 1, "method": "GET", "path": "/api/v1/events"})
    started = time.monotonic()
    with pytest.raises((TimeoutError, socket.timeout, OSError)):
        proxy.poll(q["queue_id"], -1, timeout=1.5)
    assert time.monotonic() - started >= 1.4
    (swallowed,) = proxy.entries(swallowed=True)
    assert swallowed["status"] == 200 and len(swallowed["response"]["events"]) == 1
    # Nothing was acknowledged: the next poll gets the same event.
    status, _, body = proxy.poll(q["queue_id"], -1, dont_block="true")
    assert status == 200 and body["events"] == swallowed["response"]["events"]


def test_register_params_are_added_and_recorded(pair):
    emu, proxy = pair
    proxy.control("POST", "/register-params", {"params": {"queue_lifespan_secs": "7"}})
    q = proxy.register()
    (queue,) = emu.control("GET", "/queues")["queues"]
    assert queue["queue_id"] == q["queue_id"] and queue["lifespan_secs"] == 7
    (entry,) = proxy.entries(path="/api/v1/register")
    assert entry["added_params"] == {"queue_lifespan_secs": "7"}
    assert "queue_lifespan_secs" not in entry["form"]  # the form as the client sent it
    proxy.control("POST", "/register-params", {"params": {}})
    proxy.register()
    assert sorted(x["lifespan_secs"] for x in emu.control("GET", "/queues")["queues"]) == [7, 600]


def test_an_upstream_that_is_gone_answers_502(tmp_path):
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    proxy = Proxy(str(tmp_path), f"http://127.0.0.1:{port}")
    try:
        status, _, body = proxy.api("GET", "/users/me")
        assert status == 502 and "502" in body
        (entry,) = proxy.entries()
        assert entry["status"] == 502 and "upstream_error" in entry
    finally:
        proxy.stop()
