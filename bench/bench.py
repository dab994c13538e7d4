#!/usr/bin/env python3
"""TOTP Gateway benchmarks: everything measured side by side in one run and printed as ratios.

Runs wrk --latency at c=1, 32 and 256 against: one totp-gateway; nginx returning a constant JSON
body of the same size; the original project's FastAPI gateway under uvicorn (one worker);
HAProxy -> 3 gateways and HAProxy -> 3 nginx. Also: gateway resident memory idle and holding
256 keep-alive connections, exec-to-first-healthy-response time, and the bot's processing time
per DM. Every run is bounded in time. Loopback only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, ".build", "release")
TOKEN = "bench-token-" + os.urandom(8).hex()
SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=15, path="/healthz"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"nothing healthy on port {port} after {timeout} s")


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, env=None, log=None, cwd=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        out = open(log, "ab") if log else subprocess.DEVNULL
        p = subprocess.Popen(args, env=full_env, stdout=out, stderr=out, cwd=cwd, start_new_session=True)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []


def gateway_env(instance, loops=None, tmp=None):
    env = {"TOTP_SEED_DEMO": SEED, "GATEWAY_TOKENS": f"bench:{TOKEN}:*", "GATEWAY_RATE_LIMIT": "off",
           "GATEWAY_INSTANCE": instance, "GATEWAY_AUDIT_FILE": os.path.join(tmp, f"audit-{instance}.log")}
    if loops:
        env["GATEWAY_EVENT_LOOPS"] = str(loops)
    return env


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_wrk(url, conns, seconds, auth=True):
    threads = 1 if conns == 1 else 2
    args = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    if auth:
        args += ["-H", f"Authorization: Bearer {TOKEN}"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockerr = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": lat(50), "p99_ms": lat(99),
            "errors": (int(non2xx.group(1)) if non2xx else 0), "socket_errors": sockerr.group(1) if sockerr else ""}


def alternate(results, targets, conns, seconds, rounds):
    """Measures each (name, url, auth) target `rounds` times, interleaved; keeps the median run."""
    runs = {name: [] for name, _, _ in targets}
    for _ in range(rounds):
        for name, url, auth in targets:
            runs[name].append(run_wrk(url, conns, seconds, auth=auth))
    for name, rs in runs.items():
        rs.sort(key=lambda r: r["rps"])
        median = dict(rs[len(rs) // 2])
        median["errors"] = sum(r["errors"] for r in rs)
        median["rounds"] = [round(r["rps"]) for r in rs]
        results[(name, conns)] = median


def nginx_conf(tmp, name, ports, body, workers):
    servers = "\n".join(
        f"  server {{ listen 127.0.0.1:{p}; location /code {{ default_type application/json; "
        f"add_header Cache-Control no-store; return 200 '{body}'; }} location /healthz {{ return 200 'ok'; }} }}"
        for p in ports)
    path = os.path.join(tmp, f"{name}.conf")
    with open(path, "w") as f:
        f.write(f"worker_processes {workers};\ndaemon off;\npid {tmp}/{name}.pid;\nerror_log {tmp}/{name}-error.log;\n"
                f"events {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n{servers}\n}}\n")
    return path


def hold_keepalive(port, n):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(f"GET /code?label=demo HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        socks.append(s)
    for s in socks:
        data = s.recv(4096)
        assert data.startswith(b"HTTP/1.1 200"), data[:40]
    return socks


def startup_times(runs, tmp):
    times = []
    for i in range(runs):
        port = free_port()
        env = dict(os.environ)
        env.update(gateway_env(f"start{i}", tmp=tmp))
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(REL, "totp-gateway"), "--listen", f"127.0.0.1:{port}"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = None
        while time.monotonic() - t0 < 5:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/1.1 200"):
                        ok = time.monotonic() - t0
                        break
            except OSError:
                time.sleep(0.0005)
        p.kill()
        p.wait()
        if ok is None:
            raise RuntimeError("gateway did not become healthy within 5 s")
        times.append(ok * 1000)
    return times


def bot_dm_times(tmp, procs, count=40):
    """The bot's own processing time per DM (event taken to reply sent, gateway call and Zulip
    POST included), from its audit lines, with a gateway and the test Zulip on loopback."""
    gw_port, z_port = free_port(), free_port()
    procs.start([os.path.join(REL, "totp-gateway"), "--listen", f"127.0.0.1:{gw_port}"],
                env=gateway_env("gw-bot", tmp=tmp), log=os.path.join(tmp, "gw-bot.log"))
    wait_port(gw_port)
    key = os.urandom(8).hex()
    procs.start([sys.executable, os.path.join(ROOT, "tools", "test-zulip", "test_zulip.py"), "--host", "127.0.0.1",
                 "--port", str(z_port), "--bot-email", "bot@example.com", "--bot-key", key],
                log=os.path.join(tmp, "zulip.log"))
    wait_port(z_port, path="/api/v1/server_settings")
    bot_log = os.path.join(tmp, "bot.log")
    procs.start([os.path.join(REL, "totp-bot")], env={
        "ZULIP_SITE": f"http://127.0.0.1:{z_port}", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": key,
        "GATEWAY_URLS": f"http://127.0.0.1:{gw_port}", "GATEWAY_TOKEN": TOKEN, "BOT_ACL": "alice@example.com:*",
        "BOT_STATE_DIR": tmp, "BOT_LOCK_FILE": os.path.join(tmp, "bot.lock"), "BOT_EXPIRY_EDIT": "0",
        "BOT_USER_RATE_BURST": "1000", "BOT_USER_RATE_PER_MINUTE": "6000"}, log=bot_log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "queue_registered" not in open(bot_log).read():
        time.sleep(0.05)
    say = os.path.join(ROOT, "tools", "test-zulip", "zulip_say.py")
    for _ in range(count):
        subprocess.run([sys.executable, say, "--url", f"http://127.0.0.1:{z_port}", "--from", "alice@example.com",
                        "--wait", "5", "code demo"], capture_output=True, timeout=20)
    times = []
    for line in open(bot_log):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("event") == "request" and rec.get("outcome") == "code" and "handling_ms" in rec:
            times.append(rec["handling_ms"])
    procs.stop_all()
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds per comparison (median kept)")
    ap.add_argument("--conns", default="1,32,256")
    ap.add_argument("--skip-fastapi", action="store_true")
    ap.add_argument("--skip-haproxy", action="store_true")
    ap.add_argument("--results", help="write a Markdown table here")
    ap.add_argument("--skip-bot", action="store_true")
    ap.add_argument("--scale", action="store_true",
                    help="instead: how cost grows with labels, tokens, connections and a bot burst (bench/scale.py)")
    args = ap.parse_args()
    if args.scale:
        import scale
        scale.main(args)
        return
    conns = [int(c) for c in args.conns.split(",")]
    tmp = tempfile.mkdtemp(prefix="totp-bench.")
    procs = Procs()
    results = {}
    notes = []
    try:
        # 1 + 2. one gateway and nginx (constant body of the same size), both up, measured in
        # alternation (gateway, nginx, gateway, ...) so background noise hits both alike; the
        # median of the rounds is reported.
        gw_port = free_port()
        gw = procs.start([os.path.join(REL, "totp-gateway"), "--listen", f"127.0.0.1:{gw_port}"],
                         env=gateway_env("gw", tmp=tmp), log=os.path.join(tmp, "gw.log"))
        wait_port(gw_port)
        time.sleep(0.5)
        idle_rss = rss_kib(gw.pid)
        body = subprocess.run(["curl", "-s", "-H", f"Authorization: Bearer {TOKEN}",
                               f"http://127.0.0.1:{gw_port}/code?label=demo"], capture_output=True, text=True).stdout
        socks = hold_keepalive(gw_port, 256)
        time.sleep(0.3)
        ka_rss = rss_kib(gw.pid)
        for s_ in socks:
            s_.close()
        ng_port = free_port()
        conf = nginx_conf(tmp, "nginx1", [ng_port], body.replace("'", ""), workers=os.cpu_count())
        procs.start(["nginx", "-c", conf], log=os.path.join(tmp, "nginx.log"))
        wait_port(ng_port)
        for c in conns:
            alternate(results, [("gateway", f"http://127.0.0.1:{gw_port}/code?label=demo", True),
                                ("nginx", f"http://127.0.0.1:{ng_port}/code?label=demo", False)], c, args.seconds, args.rounds)
        after_rss = rss_kib(gw.pid)
        procs.stop_all()

        # 3. the original FastAPI gateway, one uvicorn worker, with its endpoint written
        # `async def` (app) and plain `def` (app_sync, run in FastAPI's thread pool).
        if not args.skip_fastapi:
            for name, app in (("fastapi", "fastapi_gateway:app"), ("fastapi-def", "fastapi_gateway:app_sync")):
                fa_port = free_port()
                env = {"TOTP_SEED_DEMO": SEED, "API_KEY": TOKEN}
                procs.start([os.path.join(ROOT, ".venv-bench", "bin", "uvicorn"), app, "--host", "127.0.0.1",
                             "--port", str(fa_port), "--workers", "1", "--log-level", "warning"],
                            env=env, log=os.path.join(tmp, f"{name}.log"), cwd=os.path.join(ROOT, "bench"))
                wait_port(fa_port)
                for c in conns:
                    results[(name, c)] = run_wrk(f"http://127.0.0.1:{fa_port}/code?label=demo", c, args.seconds)
                procs.stop_all()

        # 4. HAProxy -> 3 gateways vs HAProxy -> 3 nginx (one thread each, as 3 single-core
        # instances), both stacks up, measured in alternation.
        if not args.skip_haproxy:
            fronts = []
            for kind in ("gateway", "nginx"):
                ports = [free_port() for _ in range(3)]
                if kind == "gateway":
                    for i, p_ in enumerate(ports):
                        procs.start([os.path.join(REL, "totp-gateway"), "--listen", f"127.0.0.1:{p_}"],
                                    env=gateway_env(f"gw{i + 1}", loops=1, tmp=tmp), log=os.path.join(tmp, f"hgw{i}.log"))
                else:
                    for i, p_ in enumerate(ports):
                        conf = nginx_conf(tmp, f"nginx-h{i}", [p_], body.replace("'", ""), workers=1)
                        procs.start(["nginx", "-c", conf], log=os.path.join(tmp, f"hng{i}.log"))
                for p_ in ports:
                    wait_port(p_)
                hp, sp = free_port(), free_port()
                env = {"HAPROXY_BIND": f"127.0.0.1:{hp}", "HAPROXY_STATS_BIND": f"127.0.0.1:{sp}",
                       "GW1_ADDR": f"127.0.0.1:{ports[0]}", "GW2_ADDR": f"127.0.0.1:{ports[1]}", "GW3_ADDR": f"127.0.0.1:{ports[2]}",
                       "HAPROXY_RATE_LIMIT": "100000000", "HAPROXY_RATE_EXEMPT": "127.0.0.1/32",
                       "HAPROXY_TOKEN_RATE_LIMIT": "100000000"}
                procs.start(["haproxy", "-W", "-db", "-f", os.path.join(ROOT, "infra", "haproxy", "haproxy.cfg")],
                            env=env, log=os.path.join(tmp, f"haproxy-{kind}.log"))
                # HAProxy answers only /code publicly (404 for /healthz); its stats page says it is up.
                wait_port(hp, path="/code?label=demo") if kind == "nginx" else wait_port(sp, path="/stats")
                fronts.append((f"haproxy-{kind}", f"http://127.0.0.1:{hp}/code?label=demo", True))
            time.sleep(2.5)  # all servers UP (rise 2 x inter 1 s)
            for c in conns:
                alternate(results, fronts, c, args.seconds, args.rounds)
            procs.stop_all()

        starts = startup_times(20, tmp)
        dm_times = [] if args.skip_bot else bot_dm_times(tmp, procs)
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    # Report
    lines = []
    lines.append(f"Machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
                 f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    lines.append(f"wrk and every server share these {os.cpu_count()} cores (loopback); {args.seconds} s per wrk run; "
                 f"compared servers run side by side and are measured in {args.rounds} alternating rounds, "
                 "median kept (all rounds in the last column); ratios compare runs from this same invocation.")
    lines.append("")
    lines.append("| target | conns | req/s | p50 ms | p99 ms | non-2xx | socket errors | rounds (req/s) |")
    lines.append("|---|---:|---:|---:|---:|---:|---|---|")
    for (name, c), r in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        rounds = " / ".join(str(x) for x in r.get("rounds", []))
        lines.append(f"| {name} | {c} | {r['rps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['errors']} | {r['socket_errors']} | {rounds} |")
    lines.append("")

    checks = []

    def ratio(a, b):
        return a / b if b else float("nan")

    for c in (32, 256):
        if ("gateway", c) in results and ("nginx", c) in results:
            r = ratio(results[("gateway", c)]["rps"], results[("nginx", c)]["rps"])
            checks.append((f"gateway / nginx req/s at c={c}", r, ">= 0.8", r >= 0.8))
    if ("gateway", 1) in results and ("nginx", 1) in results:
        r = ratio(results[("gateway", 1)]["p50_ms"], results[("nginx", 1)]["p50_ms"])
        checks.append(("gateway / nginx p50 latency at c=1", r, "<= 1.5", r <= 1.5))
    if ("fastapi", 32) in results:
        r = ratio(results[("gateway", 32)]["rps"], results[("fastapi", 32)]["rps"])
        checks.append(("gateway / FastAPI (async def) req/s at c=32", r, ">= 30", r >= 30))
        r = ratio(results[("nginx", 32)]["rps"], results[("fastapi", 32)]["rps"])
        checks.append(("nginx / FastAPI (async def) req/s at c=32: the ceiling of that ratio here", r, "(info)", True))
    if ("fastapi-def", 32) in results:
        r = ratio(results[("gateway", 32)]["rps"], results[("fastapi-def", 32)]["rps"])
        checks.append(("gateway / FastAPI (plain def) req/s at c=32", r, ">= 30", r >= 30))
    for c in conns:
        if ("haproxy-gateway", c) in results and c >= 32:
            r = ratio(results[("haproxy-gateway", c)]["rps"], results[("haproxy-nginx", c)]["rps"])
            checks.append((f"HAProxy->3 gateways / HAProxy->3 nginx req/s at c={c}", r, ">= 0.95", r >= 0.95))
    checks.append(("gateway RSS idle (MiB)", idle_rss / 1024, "<= 16", idle_rss / 1024 <= 16))
    checks.append(("gateway RSS holding 256 keep-alive connections (MiB)", ka_rss / 1024, "<= 32", ka_rss / 1024 <= 32))
    checks.append(("gateway RSS after the load runs (MiB)", after_rss / 1024, "(info)", True))
    med = statistics.median(starts)
    checks.append((f"exec to first 200 on /healthz, median of {len(starts)} (ms)", med, "<= 50", med <= 50))
    checks.append((f"exec to first 200 on /healthz, max of {len(starts)} (ms)", max(starts), "(info)", True))
    if dm_times:
        checks.append((f"bot processing per DM (event to reply sent), median of {len(dm_times)} (ms)", statistics.median(dm_times), "(info)", True))
        checks.append((f"bot processing per DM (event to reply sent), max of {len(dm_times)} (ms)", max(dm_times), "(info)", True))
    elif not args.skip_bot:
        checks.append(("bot processing per DM: no measurement", float("nan"), "(a run)", False))
    lines.append("| measure | value | target | met |")
    lines.append("|---|---:|---|---|")
    for name, value, target, ok in checks:
        lines.append(f"| {name} | {value:.2f} | {target} | {'yes' if ok else 'NO'} |")
    text = "\n".join(lines)
    print(text)
    if args.results:
        # Keep the hand-written analysis below "## Notes" across re-runs.
        notes_tail = ""
        if os.path.exists(args.results):
            old = open(args.results).read()
            if "\n## Notes" in old:
                notes_tail = old[old.index("\n## Notes"):]
        with open(args.results, "w") as f:
            f.write("# Benchmark results\n\nProduced by `scripts/bench --results bench/RESULTS.md`.\n\n" + text + "\n" + notes_tail)
    missed = [c for c in checks if not c[3]]
    print(f"\nbench: {len(checks) - len(missed)} targets met, {len(missed)} missed")


if __name__ == "__main__":
    main()
