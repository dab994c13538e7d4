#!/usr/bin/env python3
"""TLS rows for bench/RESULTS.md (issue 12): one totp-gateway with TLS against nginx with TLS on
the same certificate (P-256, made here with openssl), measured in alternating rounds.

  keep-alive:  wrk -c32 GET /code over TLS (gateway) vs nginx's constant body of the same size;
  new connection per request: the same with `Connection: close` (a full handshake each time);
  resident memory of the idle TLS gateway.
Loopback only, bounded (rounds x seconds). Run from the repository root after
`swift build -c release --static-swift-stdlib --product totp-gateway`:
  python3 bench/tls_bench.py [--seconds 5] [--rounds 3]
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import tempfile
import time

SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOKEN = "bench-token-5f1c2a9e7d3b4c6a8e0f1d2c3b4a5968"
REL = os.path.join(os.getcwd(), ".build", "release")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_https(port, ca, path, headers=()):
    for _ in range(100):
        args = ["curl", "-fs", "-o", "/dev/null", "--cacert", ca] + [a for h in headers for a in ("-H", h)]
        if subprocess.run(args + [f"https://localhost:{port}{path}"]).returncode == 0:
            return
        time.sleep(0.1)
    raise SystemExit(f"port {port} did not answer over TLS")


def wrk(url, conns, seconds, close):
    args = ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-H", f"Authorization: Bearer {TOKEN}"]
    if close:
        args += ["-H", "Connection: close"]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return rps, int(non2xx.group(1)) if non2xx else 0, errors.group(1) if errors else ""


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tls-bench-")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    quiet = dict(check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", *ec, "-keyout", f"{tmp}/ca.key", "-out", f"{tmp}/ca.pem", "-days", "2",
                    "-subj", "/CN=bench-ca"], **quiet)
    subprocess.run(["openssl", "req", *ec, "-keyout", f"{tmp}/s.key", "-out", f"{tmp}/s.csr", "-subj", "/CN=localhost"], **quiet)
    with open(f"{tmp}/s.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", f"{tmp}/s.csr", "-CA", f"{tmp}/ca.pem", "-CAkey", f"{tmp}/ca.key",
                    "-CAcreateserial", "-out", f"{tmp}/s.pem", "-days", "2", "-extfile", f"{tmp}/s.ext"], **quiet)
    os.chmod(f"{tmp}/s.key", 0o600)
    procs = []
    try:
        gw_port, ng_port = free_port(), free_port()
        env = dict(os.environ, TOTP_SEED_DEMO=SEED, GATEWAY_TOKENS=f"bench:{TOKEN}:*", GATEWAY_RATE_LIMIT="off",
                   GATEWAY_INSTANCE="bench", GATEWAY_AUDIT_FILE=f"{tmp}/audit.log",
                   GATEWAY_TLS_CERT_FILE=f"{tmp}/s.pem", GATEWAY_TLS_KEY_FILE=f"{tmp}/s.key")
        gw = subprocess.Popen([os.path.join(REL, "totp-gateway"), "--listen", f"127.0.0.1:{gw_port}"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gw)
        wait_https(gw_port, f"{tmp}/ca.pem", "/healthz")
        time.sleep(1)
        idle_rss = rss_mib(gw.pid)
        body = subprocess.run(["curl", "-s", "--cacert", f"{tmp}/ca.pem", "-H", f"Authorization: Bearer {TOKEN}",
                               f"https://localhost:{gw_port}/code?label=demo"], capture_output=True, text=True).stdout
        conf = f"{tmp}/nginx.conf"
        with open(conf, "w") as f:
            f.write(f"worker_processes {os.cpu_count()};\ndaemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log;\n"
                    f"events {{ worker_connections 4096; }}\nhttp {{\n  access_log off;\n"
                    f"  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m;\n"
                    f"  server {{ listen 127.0.0.1:{ng_port} ssl; ssl_certificate {tmp}/s.pem; ssl_certificate_key {tmp}/s.key;\n"
                    f"    location /code {{ default_type application/json; add_header Cache-Control no-store; "
                    f"return 200 '{body.replace(chr(39), '')}'; }} }}\n}}\n")
        procs.append(subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_https(ng_port, f"{tmp}/ca.pem", "/code?label=demo")
        rows = []
        for close in (False, True):
            runs = {"gateway": [], "nginx": []}
            for _ in range(args.rounds):
                for name, port in (("gateway", gw_port), ("nginx", ng_port)):
                    runs[name].append(wrk(f"https://127.0.0.1:{port}/code?label=demo", 32, args.seconds, close))
            mode = "new TLS connection per request" if close else "keep-alive"
            medians = {}
            for name, rs in runs.items():
                rates = sorted(r[0] for r in rs)
                medians[name] = statistics.median(rates)
                rows.append(f"| {name} TLS, {mode} | 32 | {medians[name]:.0f} | {sum(r[1] for r in rs)} | "
                            f"{'; '.join(sorted(set(r[2] for r in rs if r[2]))) or ''} | {' / '.join(f'{r:.0f}' for r in rates)} |")
            ratio = medians["gateway"] / medians["nginx"]
            rows.append(f"| **gateway / nginx, {mode}** | | **{ratio:.2f}** (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'}) | | | |")
        print("| target | conns | req/s (median) | non-2xx | socket errors | rounds (req/s) |")
        print("|---|---:|---:|---:|---|---|")
        print("\n".join(rows))
        print(f"\ngateway RSS idle with TLS: {idle_rss:.2f} MiB (target <= 24: {'met' if idle_rss <= 24 else 'NOT met'})")
    finally:
        for p in procs:
            p.kill()
            p.wait(5)


if __name__ == "__main__":
    main()
