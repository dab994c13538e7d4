# Shared by the drills: a throw-away cluster of 3 gateways behind HAProxy on free loopback ports.
# Source it, then: cluster_up; ...; cluster_down (also run on EXIT).
# Exposes: CLUSTER_DIR, GW_PORTS[1..3], HAPROXY_PORT, STATS_PORT, CLIENT_TOKEN, GW_BIN.
# CLUSTER_TLS=1: TLS on every hop, as the demo runs it: a throwaway CA in $CLUSTER_DIR/tls
# (tls_issue), gateways requiring client certificates, HAProxy terminating and re-encrypting;
# gw_curl adds the scheme and certificates, and the load generator verifies HAProxy's.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GW_BIN=${GW_BIN:-$ROOT/.build/debug/totp-gateway}
[ -x "$GW_BIN" ] || { echo "cluster: $GW_BIN is missing; run swift build first" >&2; exit 1; }
CLUSTER_DIR=$(mktemp -d /tmp/totp-drill.XXXXXX)
declare -A GW_PIDS=()
declare -a GW_PORTS=()
HAPROXY_PID=""
declare -a EXTRA_PIDS=()  # other processes a drill started (cluster_track); killed by cluster_down
CLUSTER_TLS=${CLUSTER_TLS:-0}
TLS_DIR=$CLUSTER_DIR/tls

# tls_issue NAME CN EKU DAYS: NAME.pem/NAME.key signed by the cluster CA (localhost and
# 127.0.0.1 for serverAuth), and NAME-full.pem (certificate + key) for HAProxy.
tls_issue() {
  ( cd "$TLS_DIR" && umask 077
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key.new" -out "$1.csr" -subj "/CN=$2"
    { echo "extendedKeyUsage=$3"; [ "$3" = clientAuth ] || echo "subjectAltName=DNS:localhost,IP:127.0.0.1"; } > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem.new" -days "$4" -extfile "$1.ext"
    cat "$1.pem.new" "$1.key.new" > "$1-full.pem.new"
    # Each file replaced by a rename: a reload never reads one half written.
    mv "$1.key.new" "$1.key"; mv "$1.pem.new" "$1.pem"; mv "$1-full.pem.new" "$1-full.pem"
    rm -f "$1.csr" "$1.ext" ) >>"$CLUSTER_DIR/tls.log" 2>&1
}

tls_setup() {
  mkdir -p "$TLS_DIR"
  ( cd "$TLS_DIR" && umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout ca.key -out ca.pem -days 30 -subj "/CN=drill CA" ) >>"$CLUSTER_DIR/tls.log" 2>&1
  tls_issue gateway drill-gateway serverAuth 20
  tls_issue haproxy drill-haproxy serverAuth 20
  tls_issue haproxy-client drill-haproxy-client clientAuth 20
  tls_issue client drill-client clientAuth 20
}

gw_curl() {  # gw_curl PORT PATH [CURL ARGS...]: one request to a gateway, TLS or not
  local port=$1 path=$2; shift 2
  if [ "$CLUSTER_TLS" = 1 ]; then
    curl -fs --cacert "$TLS_DIR/ca.pem" --cert "$TLS_DIR/client.pem" --key "$TLS_DIR/client.key" "$@" "https://localhost:$port$path"
  else
    curl -fs "$@" "http://127.0.0.1:$port$path"
  fi
}

# free_ports N: N distinct loopback ports the kernel picked, held for the whole drill. A helper
# process keeps each bound (never listening) with SO_REUSEADDR: the programs we start set it too
# (the gateway, the bot, HAProxy, the test Zulip), so they can listen on exactly that port, even
# again after a restart, while nothing else on the machine can take it meanwhile. Picking a port
# and closing it before the server binds would be a race with every other test on the machine.
free_ports() {
  local out="$CLUSTER_DIR/ports.$RANDOM$RANDOM"
  python3 - "$1" "$out" >/dev/null 2>&1 <<'PY' &
import os, signal, socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w") as f:
    f.write(" ".join(str(s.getsockname()[1]) for s in socks) + "\n")
os.rename(tmp, sys.argv[2])
signal.alarm(3600)  # a drill killed without its EXIT trap leaves no holder behind for long
signal.pause()
PY
  # Called as $(free_ports N), a subshell: the holder's pid goes to a file cluster_down reads.
  echo "$!" >>"$CLUSTER_DIR/port-holders"
  local limit=$(( $(date +%s) + 10 ))
  until [ -s "$out" ]; do
    [ "$(date +%s)" -lt "$limit" ] || { echo "cluster: could not reserve $1 ports" >&2; return 1; }
    sleep 0.02
  done
  cat "$out"
}

now_ms() { date +%s%3N; }

wait_for() {  # wait_for SECONDS CMD...: poll every 50 ms
  local limit=$(( $(now_ms) + $1 * 1000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now_ms)" -lt "$limit" ] || return 1
    sleep 0.05
  done
}

gateway_start() {  # gateway_start N
  local n=$1 tls=()
  [ "$CLUSTER_TLS" = 1 ] && tls=(GATEWAY_TLS_CERT_FILE="$TLS_DIR/gateway.pem" GATEWAY_TLS_KEY_FILE="$TLS_DIR/gateway.key"
    GATEWAY_TLS_CLIENT_CA_FILE="$TLS_DIR/ca.pem")
  env "${tls[@]}" GATEWAY_INSTANCE="gw$n" GATEWAY_SEEDS_FILE="$CLUSTER_DIR/seeds" GATEWAY_TOKENS="drill:$CLIENT_TOKEN:*" \
  GATEWAY_RATE_LIMIT=off GATEWAY_TRUSTED_PROXIES=127.0.0.1 \
    "$GW_BIN" --listen "127.0.0.1:${GW_PORTS[$n]}" >>"$CLUSTER_DIR/gw$n.log" 2>&1 &
  GW_PIDS[$n]=$!
  wait_for 10 gw_curl "${GW_PORTS[$n]}" /healthz || { echo "gw$n did not start" >&2; tail "$CLUSTER_DIR/gw$n.log" >&2; return 1; }
}

# HAProxy's view of a server: UP, DOWN, MAINT... from the stats CSV (field 18 is status).
server_status() {
  curl -fs "http://127.0.0.1:$STATS_PORT/stats;csv" | awk -F, -v s="$1" '$1=="totp_gateways" && $2==s {print $18}'
}

server_is() { [ "$(server_status "$1")" = "$2" ]; }

cluster_up() {
  read -r p1 p2 p3 HAPROXY_PORT STATS_PORT <<<"$(free_ports 5)"
  GW_PORTS=([1]=$p1 [2]=$p2 [3]=$p3)
  CLIENT_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  (umask 077; printf 'demo = %s\n' "$(head -c 20 /dev/urandom | base32)" > "$CLUSTER_DIR/seeds")
  [ "$CLUSTER_TLS" = 1 ] && tls_setup
  for n in 1 2 3; do gateway_start "$n"; done
  local tls=()
  [ "$CLUSTER_TLS" = 1 ] && tls=(HAPROXY_TLS_CERT="$TLS_DIR/haproxy-full.pem" HAPROXY_GATEWAY_CA="$TLS_DIR/ca.pem"
    HAPROXY_GATEWAY_CLIENT_PEM="$TLS_DIR/haproxy-client-full.pem")
  env "${tls[@]}" HAPROXY_BIND="127.0.0.1:$HAPROXY_PORT" HAPROXY_STATS_BIND="127.0.0.1:$STATS_PORT" \
  GW1_ADDR="127.0.0.1:$p1" GW2_ADDR="127.0.0.1:$p2" GW3_ADDR="127.0.0.1:$p3" \
  HAPROXY_RATE_LIMIT=1000000 HAPROXY_RATE_EXEMPT=127.0.0.1/32 HAPROXY_TOKEN_RATE_LIMIT=100000000 \
    haproxy -W -db -f "$ROOT/infra/haproxy/haproxy.cfg" >>"$CLUSTER_DIR/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  for n in 1 2 3; do
    wait_for 10 server_is "gw$n" UP || { echo "HAProxy did not see gw$n UP" >&2; tail "$CLUSTER_DIR/haproxy.log" >&2; return 1; }
  done
}

cluster_track() { EXTRA_PIDS+=("$@"); }  # cluster_track PID...: kill these too on exit

cluster_down() {
  local pids=("${GW_PIDS[@]}" $HAPROXY_PID "${EXTRA_PIDS[@]}" ${LOAD_PID:-})
  [ -f "$CLUSTER_DIR/port-holders" ] && mapfile -t -O "${#pids[@]}" pids <"$CLUSTER_DIR/port-holders"
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  # Wait only for what we killed: a bare `wait` would also wait for anything else still running.
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${KEEP_DRILL_DIR:-0}" != 1 ]; then rm -rf "$CLUSTER_DIR"; fi
}
trap cluster_down EXIT

load_start() {  # load_start SECONDS [LOADGEN ARGS...]: background loadgen, result in $CLUSTER_DIR/load.json
  local seconds=$1 tls=(); shift
  [ "$CLUSTER_TLS" = 1 ] && tls=(--cafile "$TLS_DIR/ca.pem")
  python3 "$ROOT/scripts/lib/loadgen.py" --port "$HAPROXY_PORT" --token "$CLIENT_TOKEN" --seconds "$seconds" "${tls[@]}" "$@" \
    --clients 4 --rate 400 --progress-file "$CLUSTER_DIR/progress" > "$CLUSTER_DIR/load.json" &
  LOAD_PID=$!
}

load_result() {  # load_result FIELD
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$CLUSTER_DIR/load.json" "$1"
}
