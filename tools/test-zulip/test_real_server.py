"""The emulator against a real Zulip server: the same requests to both, answers compared.

    eval "$(scripts/zulip-server env)"      # after scripts/zulip-server install (root)
    REAL_ZULIP_RC_DIR=$REAL_ZULIP_RC_DIR python3 -m pytest -q tools/test-zulip/test_real_server.py

Skipped unless REAL_ZULIP_RC_DIR names the zuliprc folder of a running real server (the
`real-zulip` stage of scripts/test sets it). One scenario (what the bot does, plus the errors
and edge cases the emulator emulates) runs against the emulator (at the real server's feature
level) and against the real server, through the bot's, alice's, bob's and the owner's accounts.
Then every answer is compared: status, the headers a client reads, and the shape of the JSON
body (keys and value types, recursively; lists by the union of their elements), plus the values
that carry meaning (`result`, `code`, `msg`, `type`, `flags`, raw `content`). Every difference
is printed; those not in KNOWN_DIFFERENCES (each with its reason) fail the test.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
import subprocess
import tempfile
import time

import pytest

from test_emulator import ApiClient, Emulator, run_async

RC_DIR = os.environ.get("REAL_ZULIP_RC_DIR")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZULIP_SERVER = os.path.join(REPO, "scripts", "zulip-server")

pytestmark = pytest.mark.skipif(
    not RC_DIR, reason="no real Zulip: set REAL_ZULIP_RC_DIR to a running server's zuliprc "
    "folder (scripts/zulip-server install, then eval \"$(scripts/zulip-server env)\")")

# Headers a client reads; compared by presence and by the form of the value.
HEADERS = ["Content-Type", "Retry-After", "WWW-Authenticate", "X-RateLimit-Limit",
           "X-RateLimit-Remaining", "X-RateLimit-Reset"]
# Keys whose values are compared wherever they appear (the rest only by type).
VALUE_KEYS = {"result", "code", "msg", "type", "flags", "content_type", "var_name",
              "local_message_id", "is_bot", "ignored_parameters_unsupported"}
# `msg` differs on success ("") only if something is badly wrong; errors are compared exactly.
# `content` is compared where the scenario asked for raw Markdown.
RAW_CONTENT_STEPS = {"events message", "events own message", "events group message",
                     "messages newest", "messages after"}

# Differences accepted, each for a reason: a pattern (fnmatch) over the difference as printed.
KNOWN_DIFFERENCES: dict[str, str] = {
    "register realm.*: only in the real server":
        "the emulator returns the realm fields a bot reads (name, URL, message and topic length "
        "limits, event_queue_longpoll_timeout_seconds, plan); the other ~115 are web-app "
        "settings (emoji, logos, permissions, notifications) no bot reads",
}


def known(diff):
    return any(fnmatch.fnmatchcase(diff, pattern) for pattern in KNOWN_DIFFERENCES)


def read_rc(path):
    cp = configparser.ConfigParser()
    cp.read(path)
    return cp["api"]["email"], cp["api"]["key"], cp["api"]["site"]


class Side(ApiClient):
    """One server of the comparison: its URL and the four accounts the scenario uses."""

    name = ""
    users: dict[str, tuple[str, str]] = {}
    ids: dict[str, int] = {}

    def call(self, who, method, path, params=None, timeout=10):
        return self.api(method, path, params, auth=self.users[who] if who else None,
                        timeout=timeout)

    def load_ids(self):
        for who in self.users:
            status, _, body = self.call(who, "GET", "/users/me")
            assert status == 200, (self.name, who, body)
            self.ids[who] = body["user_id"]

    def limit(self, who):  # the next API call of `who` gets a 429
        raise NotImplementedError

    def unlimit(self, who):
        raise NotImplementedError


class EmulatorSide(Side):
    name = "emulator"

    def __init__(self, tmpdir):
        # The real server's feature level and version, so FL-dependent fields can agree.
        self.emu = Emulator(tmpdir, "--feature-level", "371", "--zulip-version", "10.0")
        self.url = self.emu.url
        self.users = {"bot": self.emu.default_auth}
        self.ids = {}
        for who, name in (("alice", "Alice"), ("bob", "Bob"), ("owner", "Owner")):
            email, key = f"{who}@example.com", f"{who}-key-0123456789abcdef0123456"
            self.emu.control("POST", "/users", {"email": email, "full_name": name, "api_key": key})
            self.users[who] = (email, key)
        # The channel the real server has (install creates it with alice, bob and the bot).
        self.emu.control("POST", "/send", {"from": "alice@example.com", "stream": "ops",
                                           "topic": "setup", "content": "channel created"})
        self.load_ids()

    def limit(self, who):
        self.emu.control("POST", "/rate-limit", {"count": 1, "retry_after": 59.3})

    def unlimit(self, who):
        pass

    def stop(self):
        self.emu.stop()


class RealSide(Side):
    name = "real server"

    def __init__(self, rc_dir):
        self.users, self.ids = {}, {}
        for who in ("bot", "alice", "bob", "owner"):
            email, key, site = read_rc(os.path.join(rc_dir, f"{who}.zuliprc"))
            self.users[who] = (email, key)
            self.url = site
        self.load_ids()

    def rate_limit_rules(self, who, rules):
        done = subprocess.run([ZULIP_SERVER, "rate-limit", self.users[who][0], rules],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def limit(self, who):
        self.rate_limit_rules(who, "60:1")
        self.call(who, "GET", "/users/me")  # the one call a minute allowed

    def unlimit(self, who):
        self.rate_limit_rules(who, "default")

    def stop(self):
        pass


def poll_until_events(side, queue_id, last_event_id, timeout=10):
    """dont_block polls until the queue has events: always an immediate answer."""
    deadline = time.monotonic() + timeout
    while True:
        status, headers, body = side.call("bot", "GET", "/events", {
            "queue_id": queue_id, "last_event_id": str(last_event_id), "dont_block": "true"})
        if status != 200 or body.get("events") or time.monotonic() > deadline:
            return status, headers, body
        time.sleep(0.05)


def scenario(side):
    """Runs the requests; returns {step name: (status, headers, body)}."""
    out = {}
    ids = side.ids

    def rec(name, who, method, path, params=None, result=None, timeout=10):
        status, headers, body = result or side.call(who, method, path, params, timeout=timeout)
        out[name] = (status, {h: headers.get(h) for h in HEADERS if headers.get(h) is not None}, body)
        return body

    # An idle queue of the owner's for a heartbeat (45-55 s on the real server): polled in the
    # background while the rest runs.
    hb_queue = rec("register owner", "owner", "POST", "/register", {"event_types": ["message"]})
    heartbeat = run_async(side.call, "owner", "GET", "/events",
                          {"queue_id": hb_queue["queue_id"], "last_event_id": "-1"}, timeout=100)

    rec("server_settings", None, "GET", "/server_settings")
    rec("users/me", "bot", "GET", "/users/me")
    dm = {"operator": "is", "operand": "dm"}
    q = rec("register", "bot", "POST", "/register", {
        "event_types": ["message"], "narrow": [["is", "dm"]], "apply_markdown": "false"})
    rec("register realm", "bot", "POST", "/register", {
        "event_types": ["message"], "narrow": [["is", "dm"]], "fetch_event_types": ["realm"]})
    rec("register realm_user_groups", "bot", "POST", "/register", {
        "event_types": ["message"], "fetch_event_types": ["realm_user_groups"]})
    rec("register lifespan", "bot", "POST", "/register", {
        "event_types": ["message"], "queue_lifespan_secs": "120"})
    qid = q["queue_id"]
    rec("events dont_block", "bot", "GET", "/events",
        {"queue_id": qid, "last_event_id": "-1", "dont_block": "true"})

    m1 = rec("send dm", "alice", "POST", "/messages",
             {"type": "direct", "to": [ids["bot"]], "content": "hello bot"})["id"]
    events = rec("events message", None, None, None, result=poll_until_events(side, qid, -1))
    last = events["events"][-1]["id"]
    m2 = rec("send reply", "bot", "POST", "/messages", {
        "type": "direct", "to": [ids["alice"]], "content": "hi alice", "queue_id": qid,
        "local_id": "7"})["id"]
    events = rec("events own message", None, None, None, result=poll_until_events(side, qid, last))
    last = events["events"][-1]["id"]
    rec("send group", "alice", "POST", "/messages",
        {"type": "direct", "to": [ids["bot"], ids["bob"]], "content": "hello both"})
    events = rec("events group message", None, None, None, result=poll_until_events(side, qid, last))
    last = events["events"][-1]["id"]
    rec("send private by email", "bot", "POST", "/messages",
        {"type": "private", "to": side.users["alice"][0], "content": "legacy type"})
    # A new topic each run: starting one makes its sender follow it (said in the answer).
    topic = f"t{time.time_ns()}"
    rec("send stream new topic", "alice", "POST", "/messages",
        {"type": "stream", "to": "ops", "topic": topic, "content": "stream hello"})
    rec("send stream", "alice", "POST", "/messages",
        {"type": "stream", "to": "ops", "topic": topic, "content": "stream hello again"})
    rec("edit own", "bot", "PATCH", f"/messages/{m2}", {"content": "hi alice, edited"})
    rec("edit other", "bot", "PATCH", f"/messages/{m1}", {"content": "not mine"})
    rec("edit unknown", "bot", "PATCH", "/messages/999999999", {"content": "nothing"})
    rec("send no recipients", "bot", "POST", "/messages",
        {"type": "direct", "to": [], "content": "to nobody"})
    rec("send unknown param", "bot", "POST", "/messages",
        {"type": "direct", "to": [ids["alice"]], "content": "extra", "bogus_param": "1"})

    rec("messages newest", "bot", "GET", "/messages", {
        "anchor": "newest", "num_before": "1", "num_after": "0", "narrow": [dm],
        "apply_markdown": "false"})
    rec("messages after", "bot", "GET", "/messages", {
        "anchor": str(m1), "include_anchor": "false", "num_before": "0", "num_after": "10",
        "narrow": [dm], "apply_markdown": "false"})
    rec("messages rendered", "alice", "GET", "/messages", {
        "anchor": str(m1), "num_before": "0", "num_after": "10"})
    rec("messages missing num_after", "bot", "GET", "/messages",
        {"anchor": "newest", "num_before": "1"})

    rec("messages dm by email list", "bot", "GET", "/messages", {
        "anchor": "newest", "num_before": "1", "num_after": "0",
        "narrow": [{"operator": "dm", "operand": [side.users["alice"][0]]}]})
    rec("messages dm by email", "bot", "GET", "/messages", {
        "anchor": "newest", "num_before": "1", "num_after": "0",
        "narrow": [{"operator": "dm", "operand": side.users["alice"][0]}]})
    rec("messages bad anchor", "bot", "GET", "/messages",
        {"anchor": "sideways", "num_before": "1", "num_after": "0"})
    rec("send invalid user id", "bot", "POST", "/messages",
        {"type": "direct", "to": [999999], "content": "to nobody"})
    rec("send invalid email", "bot", "POST", "/messages",
        {"type": "direct", "to": ["nobody@example.com"], "content": "to nobody"})
    rec("send unknown channel", "alice", "POST", "/messages",
        {"type": "stream", "to": "no-such-channel", "topic": "t", "content": "x"})
    rec("send empty", "bot", "POST", "/messages",
        {"type": "direct", "to": [ids["alice"]], "content": "  "})
    rec("send bad type", "bot", "POST", "/messages",
        {"type": "telegram", "to": [ids["alice"]], "content": "x"})
    rec("register bad narrow", "bot", "POST", "/register",
        {"event_types": ["message"], "narrow": [["dm", str(ids["alice"])]]})
    rec("events foreign queue", "alice", "GET", "/events", {"queue_id": qid, "last_event_id": "-1"})
    rec("events without last_event_id", "bot", "GET", "/events",
        {"queue_id": qid, "dont_block": "true"})
    rec("events pruned", "bot", "GET", "/events",
        {"queue_id": qid, "last_event_id": "-1", "dont_block": "true"})
    rec("unknown endpoint", "bot", "GET", "/no_such_endpoint")
    rec("user_groups bot", "bot", "GET", "/user_groups")
    rec("user_groups human", "alice", "GET", "/user_groups")

    rec("delete queue", "bot", "DELETE", "/events", {"queue_id": qid})
    rec("events deleted queue", "bot", "GET", "/events", {"queue_id": qid, "last_event_id": "-1"})
    rec("delete deleted queue", "bot", "DELETE", "/events", {"queue_id": qid})

    bot_email = side.users["bot"][0]
    out["bad key"] = side.api("GET", "/users/me", auth=(bot_email, "x" * 32))
    out["malformed key"] = side.api("GET", "/users/me", auth=(bot_email, "short"))
    out["no auth"] = side.api("POST", "/register", {"event_types": ["message"]}, auth=None)
    out["unknown user"] = side.api("GET", "/users/me", auth=("nobody@example.com", "x" * 32))
    for name in ("bad key", "malformed key", "no auth", "unknown user"):
        status, headers, body = out[name]
        out[name] = (status, {h: headers.get(h) for h in HEADERS if headers.get(h) is not None}, body)

    side.limit("bob")
    try:
        rec("rate limited", "bob", "GET", "/users/me")
    finally:
        side.unlimit("bob")

    status, headers, body = heartbeat(timeout=100)
    rec("events heartbeat", None, None, None, result=(status, headers, body))
    hb = body["events"][-1]["id"]
    rec("events after heartbeat", "owner", "GET", "/events", {
        "queue_id": hb_queue["queue_id"], "last_event_id": str(hb), "dont_block": "true"})
    return out


# ---- comparing -----------------------------------------------------------------------------

def shape(value):
    """Keys and value types, recursively; a list by the union of its elements' shapes."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        merged = None
        for item in value:
            merged = merge(merged, shape(item))
        return [] if merged is None else [merged]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def merge(a, b):
    """The union of two shapes: objects merge key by key, lists element by element, and
    different kinds become alternatives ("int|null")."""
    if a is None:
        return b
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: merge(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k))
                for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return [merge(a[0], b[0])] if a and b else a or b
    if a == b:
        return a
    return "|".join(sorted(set(kind(a).split("|")) | set(kind(b).split("|"))))


def kind(s):
    return "object" if isinstance(s, dict) else "list" if isinstance(s, list) else s


def shape_diffs(path, emu, real, out):
    if isinstance(emu, dict) and isinstance(real, dict):
        for k in sorted(set(emu) | set(real)):
            p = f"{path}.{k}"
            if k not in real:
                out.append(f"{p}: only in the emulator")
            elif k not in emu:
                out.append(f"{p}: only in the real server")
            else:
                shape_diffs(p, emu[k], real[k], out)
    elif isinstance(emu, list) and isinstance(real, list):
        if emu and real:
            shape_diffs(path + "[]", emu[0], real[0], out)
    elif emu != real:
        out.append(f"{path}: {kind(emu)} in the emulator, {kind(real)} in the real server")


def values(body, path="", raw_content=False):
    """(path, value) for the keys whose values are compared."""
    if isinstance(body, dict):
        for k, v in body.items():
            p = f"{path}.{k}"
            if k in VALUE_KEYS or (k == "content" and raw_content):
                if not (k == "msg" and path):  # nested "msg" is message text, not an error
                    yield p, UUID.sub("<uuid>", v) if isinstance(v, str) else v
            if isinstance(v, (dict, list)):
                yield from values(v, p, raw_content)
    elif isinstance(body, list):
        for i, v in enumerate(body):
            yield from values(v, f"{path}[{i}]", raw_content)


def header_form(value):
    if value is None:
        return None
    if re.fullmatch(r"[0-9]+", value):
        return "integer string"
    if re.fullmatch(r"[0-9]*\.[0-9]+", value):
        return "float string"
    return repr(value)


def compare(emu_answers, real_answers):
    diffs = []
    for step in emu_answers:
        e_status, e_headers, e_body = emu_answers[step]
        r_status, r_headers, r_body = real_answers[step]
        if e_status != r_status:
            diffs.append(f"{step}: status {e_status} in the emulator, {r_status} in the real server")
        for h in HEADERS:
            e, r = e_headers.get(h), r_headers.get(h)
            if h == "Content-Type":
                e, r = repr(e) if e else None, repr(r) if r else None
            else:
                e, r = header_form(e), header_form(r)
            if e != r:
                diffs.append(f"{step}: header {h}: {e} in the emulator, {r} in the real server")
        out = []
        shape_diffs(step, shape(e_body), shape(r_body), out)
        diffs.extend(out)
        raw = step in RAW_CONTENT_STEPS
        e_vals, r_vals = dict(values(e_body, raw_content=raw)), dict(values(r_body, raw_content=raw))
        for p in sorted(set(e_vals) & set(r_vals)):
            if e_vals[p] != r_vals[p]:
                diffs.append(f"{step}{p} = {e_vals[p]!r} in the emulator, {r_vals[p]!r} in the real server")
    return diffs


def test_the_emulator_answers_like_the_real_server():
    real = RealSide(RC_DIR)
    with tempfile.TemporaryDirectory() as tmp:
        emu = EmulatorSide(tmp)
        try:
            emu_answers = scenario(emu)
        finally:
            emu.stop()
    real_answers = scenario(real)
    diffs = compare(emu_answers, real_answers)
    print(f"\n{len(diffs)} differences between the emulator and the real server:")
    for d in diffs:
        print(("  known: " if known(d) else "  NEW:   ") + d)
    unexpected = [d for d in diffs if not known(d)]
    assert not unexpected, "the emulator differs from the real server:\n" + "\n".join(unexpected)
