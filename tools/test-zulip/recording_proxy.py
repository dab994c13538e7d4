#!/usr/bin/env python3
"""A loopback HTTP proxy in front of a real Zulip that records every API call, for tests.

Standard library only. A bot under test is pointed at the proxy instead of the server; the
proxy forwards each /api/v1 request unchanged and records it, with the answer, in the same
request-log format as the test Zulip (test_zulip.py), so the same checks (spec_check.py, "no
ignored_parameters_unsupported", "re-sent only after Retry-After") run on a real server's traffic.

    python3 tools/test-zulip/recording_proxy.py --upstream http://127.0.0.1:9991 \
        --port 0 --port-file /tmp/pport --request-log /tmp/requests.jsonl

It writes its port to --port-file once listening. SIGTERM/SIGINT stop it (exit 0). The
Authorization header is forwarded, never recorded: the log names the Basic-auth user only.

Control API (JSON, no auth, loopback clients only), for faults a real server cannot be asked
for:
  GET  /control/requests?after=SEQ   recorded entries after SEQ
  POST /control/hold {method?, path?} matching calls get no answer until released: calls in
                                     flight have their upstream connection closed at once (the
                                     server sees its client go away, as in a network partition)
                                     and new ones are not sent; the client waits
  POST /control/release              held calls are sent upstream now, as if arriving late
  POST /control/swallow {count, method?, path?}
                                     the next COUNT matching calls are forwarded and answered
                                     by the server, but the answer is recorded and never
                                     delivered: the client's connection stays open and silent
                                     until it gives up (or /control/release closes it), like a
                                     long-poll hung in a load balancer
  POST /control/register-params {params: {name: value}}
                                     added to every POST /register form (recorded under
                                     `added_params`), e.g. queue_lifespan_secs for a queue that
                                     expires within a test; {} removes them
  POST /control/reset                log, holds, swallows and added params cleared
"""

from __future__ import annotations

import argparse
import base64
import binascii
import http.client
import ipaddress
import json
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

# The emulator's request-log helpers and handler base (same folder, standard library only).
from test_zulip import (API_PREFIX, CONTROL_PREFIX, ControlError, DispatchingHandler,
                        injection_filter, logged_params, matches, serve_until_signalled,
                        write_port_file)

# Not forwarded either way: hop-by-hop, or recomputed for the body actually sent.
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "te",
               "trailer", "upgrade", "proxy-connection", "proxy-authorization"}
# Long enough for any long-poll (Zulip's heartbeat comes within 55 s; nginx allows 1200 s).
UPSTREAM_TIMEOUT = 600


def basic_user(header):
    """The user name of a Basic Authorization header (never the key), or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


class Flight:
    """A call in progress: what hold needs to cut it off from the server."""

    def __init__(self, method, path):
        self.method = method
        self.path = path
        self.conn = None  # the upstream connection while one is open
        self.cut = False  # hold closed the upstream connection under it


class State:
    def __init__(self, upstream, log_path):
        split = urlsplit(upstream)
        if split.scheme != "http" or not split.hostname:
            raise SystemExit("--upstream must be http://HOST:PORT")
        self.upstream_host, self.upstream_port = split.hostname, split.port or 80
        self.lock = threading.Condition()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.seq = 0
        self.stopping = False
        self.flights: set[Flight] = set()
        self.reset()

    def reset(self):
        with self.lock:
            self.entries = []
            self.holding = False
            self.hold = None  # which calls: (method or None, path or None), or None for all
            self.hold_generation = 0  # bumped by release: held calls go on
            self.swallow_left = 0
            self.swallow_only = None
            self.register_params = {}
            self.lock.notify_all()

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.entries.append(entry)
            if self.log_file is not None:
                self.log_file.write(json.dumps(entry, sort_keys=True) + "\n")
                self.log_file.flush()


class Handler(DispatchingHandler):
    timeout = 900  # an idle keep-alive connection gives its thread back after this

    def dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        if parts.path.startswith(CONTROL_PREFIX + "/"):
            self.control(method, parts, body)
        else:
            self.forward(method, parts, body)

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # ---- forwarding --------------------------------------------------------------------

    def forward(self, method, parts, body):
        s = self.state
        started = time.time()
        ctype = self.headers.get("Content-Type", "")
        form_pairs = []
        if body and ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            form_pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        entry = {
            "time": round(started, 3), "method": method, "path": parts.path,
            "query": logged_params(parse_qsl(parts.query, keep_blank_values=True)),
            "form": logged_params(form_pairs), "content_type": ctype or None,
            "user_agent": self.headers.get("User-Agent"),
            "user_email": basic_user(self.headers.get("Authorization")),
            # Which client connection: a client's own retries come on its connection.
            "client_port": self.client_address[1],
        }
        with s.lock:
            if method == "POST" and parts.path == API_PREFIX + "/register" and s.register_params:
                entry["added_params"] = dict(s.register_params)
                form_pairs = form_pairs + list(s.register_params.items())
                body = urlencode(form_pairs).encode()
            swallow = s.swallow_left > 0 and matches(s.swallow_only, method, parts.path)
            if swallow:
                s.swallow_left -= 1
        flight = Flight(method, parts.path)
        with s.lock:
            s.flights.add(flight)
        try:
            answer = self.exchange(flight, method, parts, body, entry)
        finally:
            with s.lock:
                s.flights.discard(flight)
        entry["duration_ms"] = round((time.time() - started) * 1000, 1)
        if answer is None:  # the proxy is stopping
            entry.update(status=None, dropped=True)
            s.record(entry)
            self.close_connection = True
            return
        status, headers, data = answer
        entry["status"] = status
        entry["response_headers"] = {k: v for k, v in headers if k.lower() not in HOP_HEADERS}
        try:
            entry["response"] = json.loads(data) if data else None
        except ValueError:
            entry["response"] = None
            entry["response_text"] = data[:500].decode("utf-8", "replace")
        if swallow:
            entry["swallowed"] = True
            s.record(entry)
            self.hang()
            return
        s.record(entry)
        try:
            self.reply(status, data, [(k, v) for k, v in headers if k.lower() not in HOP_HEADERS])
        except OSError:
            self.close_connection = True  # the client gave up

    def exchange(self, flight, method, parts, body, entry):
        """Sends the call upstream, waiting out holds; (status, headers, body) or None."""
        s = self.state
        while True:
            with s.lock:
                while s.holding and matches(s.hold, method, parts.path) and not s.stopping:
                    entry["held"] = True
                    s.lock.wait(0.5)
                if s.stopping:
                    return None
                flight.cut = False
                generation = s.hold_generation
            conn = http.client.HTTPConnection(s.upstream_host, s.upstream_port, timeout=UPSTREAM_TIMEOUT)
            with s.lock:
                flight.conn = conn
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                headers["Content-Length"] = str(len(body))
                conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                             body=body if method != "GET" or body else None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.getheaders(), data
            except (OSError, http.client.HTTPException) as err:
                with s.lock:
                    cut = flight.cut
                if not cut:
                    # The server really went away (a restart): answer as nginx would.
                    entry["upstream_error"] = f"{type(err).__name__}: {err}"
                    page = b"<html><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"
                    return 502, [("Content-Type", "text/html")], page
                entry["cut"] = entry["held"] = True
                with s.lock:  # cut by hold: wait for the release, then send it again
                    while s.hold_generation == generation and not s.stopping:
                        s.lock.wait(0.5)
            finally:
                with s.lock:
                    flight.conn = None
                conn.close()

    def hang(self):
        """Keeps a swallowed call's connection open and silent until release or stop."""
        s = self.state
        with s.lock:
            generation = s.hold_generation
            while s.hold_generation == generation and not s.stopping:
                s.lock.wait(0.5)
        self.close_connection = True

    # ---- control -----------------------------------------------------------------------

    def control(self, method, parts, body):
        try:
            loopback = ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return self.control_reply(403, {"error": "control API is loopback-only"})
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as exc:
            return self.control_reply(400, {"error": f"invalid JSON body: {exc}"})
        name = parts.path[len(CONTROL_PREFIX) + 1:].strip("/").replace("-", "_")
        fn = getattr(self, f"control_{method.lower()}_{name}", None)
        if fn is None:
            return self.control_reply(404, {"error": f"unknown control endpoint {method} {parts.path}"})
        try:
            status, answer = fn(payload, dict(parse_qsl(parts.query)))
        except (ValueError, ControlError) as exc:
            status, answer = 400, {"error": str(exc)}
        self.control_reply(status, answer)

    def control_reply(self, status, answer):
        self.reply(status, json.dumps(answer).encode(), [("Content-Type", "application/json")])

    @staticmethod
    def described(only):
        method, path = only or (None, None)
        return {"method": method, "path": path}

    def control_get_requests(self, payload, query):
        after = int(query.get("after", "0"))
        with self.state.lock:
            return 200, {"requests": [e for e in self.state.entries if e["seq"] > after]}

    def control_post_hold(self, payload, query):
        s = self.state
        only = injection_filter(payload)
        cut = 0
        with s.lock:
            s.holding, s.hold = True, only
            for flight in s.flights:
                if matches(only, flight.method, flight.path) and flight.conn is not None:
                    flight.cut = True
                    sock = flight.conn.sock
                    if sock is not None:
                        try:
                            sock.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                    cut += 1
        return 200, {"holding": self.described(only), "cut": cut}

    def control_post_release(self, payload, query):
        s = self.state
        with s.lock:
            s.holding, s.hold = False, None
            s.hold_generation += 1
            s.lock.notify_all()
        return 200, {"released": True}

    def control_post_swallow(self, payload, query):
        count = payload.get("count", 1)
        if not isinstance(count, int) or count < 0:
            raise ValueError("count must be a non-negative integer")
        only = injection_filter(payload)
        with self.state.lock:
            self.state.swallow_left, self.state.swallow_only = count, only
        return 200, {"count": count, **self.described(only)}

    def control_post_register_params(self, payload, query):
        params = payload.get("params", {})
        if not isinstance(params, dict) or not all(isinstance(v, str) for v in params.values()):
            raise ValueError("params must map names to string values")
        with self.state.lock:
            self.state.register_params = dict(params)
        return 200, {"params": params}

    def control_post_reset(self, payload, query):
        self.state.reset()
        return 200, {"reset": True}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="the Zulip server, http://HOST:PORT")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--request-log", help="append one JSON line per API call here")
    args = ap.parse_args(argv)
    if not ipaddress.ip_address(args.host).is_loopback:
        raise SystemExit("--host must be a loopback address: the control API has no auth")

    state = State(args.upstream, args.request_log)
    httpd = Server((args.host, args.port), Handler)
    httpd.state = state
    port = httpd.server_address[1]
    write_port_file(args.port_file, port)
    print(f"recording-proxy listening on http://{args.host}:{port} -> {args.upstream}", flush=True)

    def on_stop():
        with state.lock:
            state.stopping = True
            state.lock.notify_all()

    return serve_until_signalled(httpd, "recording-proxy", on_stop, state.log_file)


if __name__ == "__main__":
    sys.exit(main())
