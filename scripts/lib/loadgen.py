#!/usr/bin/env python3
"""Bounded load generator for the failure drills.

Keep-alive HTTP/1.1 clients GET /code through HAProxy for a fixed time (and at most a fixed
number of requests), at a capped rate, and count every outcome. A "failure" is anything but a
200 with a JSON code: a non-200 status, a reset, a timeout. Prints a JSON summary on stdout.
Loopback only: the URL must point at 127.0.0.1. With --cafile it speaks TLS and verifies the
server's certificate against that CA (host name 127.0.0.1).
"""
import argparse
import http.client
import json
import ssl
import threading
import time
from collections import Counter


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--label", default="demo")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--max-requests", type=int, default=200000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rate", type=float, default=400, help="requests per second, all clients together")
    ap.add_argument("--progress-file", help="append 'elapsed ok failed' lines every 0.5 s")
    ap.add_argument("--cafile", help="speak TLS, trusting this CA bundle")
    ap.add_argument("--retry-stale", action="store_true",
                    help="retry once on a fresh connection when a reused keep-alive connection is closed before any "
                         "response byte (what libcurl, and so the bot, does; RFC 9112 9.3.1): a proxy reload closes idle "
                         "connections, racing a request just sent on one. Counted as stale_retries, not as failures.")
    args = ap.parse_args()
    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None

    def connect():
        if context:
            return http.client.HTTPSConnection("127.0.0.1", args.port, timeout=5, context=context)
        return http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)

    lock = threading.Lock()
    statuses = Counter()
    instances = Counter()
    failures = []
    stale_retries = [0]
    sent = [0]
    start = time.monotonic()
    deadline = start + args.seconds
    interval = args.clients / args.rate

    def client():
        conn = connect()
        next_at = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            with lock:
                if sent[0] >= args.max_requests:
                    break
                sent[0] += 1
            if next_at > now:
                time.sleep(next_at - now)
            next_at += interval
            try:
                reused = conn.sock is not None
                try:
                    conn.request("GET", f"/code?label={args.label}", headers={"Authorization": f"Bearer {args.token}"})
                    resp = conn.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    if not (args.retry_stale and reused):
                        raise
                    with lock:
                        stale_retries[0] += 1
                    conn.close()
                    conn = connect()
                    conn.request("GET", f"/code?label={args.label}", headers={"Authorization": f"Bearer {args.token}"})
                    resp = conn.getresponse()
                body = resp.read()
                instance = None
                if resp.status == 200:
                    instance = json.loads(body).get("instance")
                with lock:
                    statuses[resp.status] += 1
                    if instance:
                        instances[instance] += 1
                    if resp.status != 200 or not instance:
                        failures.append(f"{time.monotonic() - start:.2f}s status {resp.status}")
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except Exception as e:  # a reset or timeout is a failed request
                with lock:
                    statuses["error"] += 1
                    failures.append(f"{time.monotonic() - start:.2f}s {type(e).__name__}: {e}")
                conn.close()
                conn = connect()
        conn.close()

    def progress():
        while time.monotonic() < deadline:
            time.sleep(0.5)
            with lock:
                ok = statuses[200]
                bad = len(failures)
            with open(args.progress_file, "a") as f:
                f.write(f"{time.monotonic() - start:.1f} {ok} {bad}\n")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    if args.progress_file:
        threads.append(threading.Thread(target=progress, daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + 15)
    total = sum(statuses.values())
    print(json.dumps({
        "requests": total, "ok": statuses[200], "failed": len(failures), "stale_retries": stale_retries[0],
        "statuses": {str(k): v for k, v in statuses.items()}, "instances": dict(instances),
        "seconds": round(time.monotonic() - start, 2), "first_failures": failures[:10],
    }))


if __name__ == "__main__":
    main()
