import Platform
import Synchronization
import CurlHTTP

/// The bot's Prometheus metrics. Names are relied upon by the alert rules
/// (infra/prometheus/alerts.yml): `bot_leader`, `bot_leader_epoch`,
/// `bot_zulip_last_success_timestamp_seconds`, `bot_zulip_errors_total{kind}`,
/// `bot_zulip_last_event_answer_timestamp_seconds`, `bot_zulip_event_poll_limit_seconds`,
/// `bot_gateway_requests_total{instance,outcome}`, `bot_gateway_failovers_total`,
/// `bot_dms_total{outcome}`, `bot_state_writable`, plus `process_*`. The access workflow adds
/// `bot_access_pending_requests`, `bot_access_grants` and `bot_access_outbox_unsent`. Also per gateway URL: `bot_gateway_attempts_total`
/// and `bot_gateway_circuit_open` (1 while that instance is skipped or being probed), and
/// `bot_gateway_invalid_answers_total` (answers refused as unsound, see `GatewayCode.problem`).
/// With `BOT_ELECTION=etcd`: `bot_etcd_up`, `bot_etcd_request_failures_total{request}` and
/// `bot_etcd_lease_remaining_seconds` (alerts `BotEtcdNoLeader`, `BotEtcdUnreachable`).
///
/// ```swift
/// let metrics = BotMetrics()
/// metrics.leader.set(1)
/// metrics.dms.labels("code").inc()
/// ```
final class BotMetrics: Sendable {
    let registry = MetricsRegistry()
    let leader: Gauge
    let epoch: Gauge
    let zulipLastSuccess: Gauge
    let zulipErrors: CounterFamily
    let eventLastAnswer: Gauge
    let eventPollLimit: Gauge
    let eventPollsAbandoned: Counter
    let dms: CounterFamily
    let expiryEdits: CounterFamily
    let watermarkRejected: Counter
    let aclUnresolved: Gauge
    let stateWritable: Gauge
    let stateWriteFailures: Counter
    /// Whether the last etcd request worked (nil: etcd not used, or no request yet), for `/healthz`.
    private let etcdLastRequestWorked = Mutex<Bool?>(nil)

    init() {
        leader = registry.gauge("bot_leader", help: "1 while this bot holds the leader lock and answers DMs, 0 on standby.").labels()
        epoch = registry.gauge("bot_leader_epoch", help: "Election epoch recorded in the lock file when this bot last became leader (0: never).").labels()
        zulipLastSuccess = registry.gauge(
            "bot_zulip_last_success_timestamp_seconds", help: "Unix time of the last Zulip API call that succeeded.").labels()
        zulipErrors = registry.counter("bot_zulip_errors_total", help: "Failed Zulip API calls by kind.", labelNames: ["kind"])
        for kind in ["auth", "bad_queue", "rate_limit", "server", "network", "bad_request", "decoding"] {
            _ = zulipErrors.labels(kind)
        }
        eventLastAnswer = registry.gauge(
            "bot_zulip_last_event_answer_timestamp_seconds",
            help: "Unix time of the leader's last answer from its Zulip event queue (register or GET /events), or of its start as leader.").labels()
        eventPollLimit = registry.gauge(
            "bot_zulip_event_poll_limit_seconds",
            help: "How long a long-poll may go unanswered before the leader abandons it as stuck and polls again.").labels()
        eventPollsAbandoned = registry.counter(
            "bot_zulip_event_polls_abandoned_total",
            help: "Long-polls (GET /events) abandoned without an answer after the limit, then sent again with the same last_event_id.").labels()
        dms = registry.counter("bot_dms_total", help: "Messages handled, by outcome.", labelNames: ["outcome"])
        expiryEdits = registry.counter("bot_expiry_edits_total", help: "Edits of replies whose code expired, by result.", labelNames: ["result"])
        watermarkRejected = registry.counter(
            "bot_state_watermark_rejected_total",
            help: "Saved watermarks refused at takeover because they lie beyond the newest message Zulip has; catch-up restarted from the BOT_CATCHUP_MAX_AGE window.").labels()
        aclUnresolved = registry.gauge(
            "bot_acl_unresolved_emails",
            help: "Email entries of the access list that name no single active Zulip account right now (they grant nothing).").labels()
        stateWritable = registry.gauge(
            "bot_state_writable",
            help: "1 while the leader's state file in BOT_STATE_DIR can be written, 0 after a failed write (the leader answers no DM then).").labels()
        stateWriteFailures = registry.counter(
            "bot_state_write_failures_total", help: "Writes of the leader's state file that failed (full disk, permissions).").labels()
        ProcessMetrics.register(in: registry)
    }

    /// The access workflow's state at scrape time: requests waiting for approval, running
    /// grants, messages owed (a rising count means Zulip refuses or cannot be reached).
    func attach(access store: LeaderStateStore) {
        registry.gaugeFunction("bot_access_pending_requests", help: "Requests under an access policy waiting for approval.") {
            [([], Double(store.current.access.requests.filter(\.isPending).count))]
        }
        registry.gaugeFunction("bot_access_grants", help: "Running grants (codes without a new approval until they end).") {
            [([], Double(store.current.access.grants.count))]
        }
        registry.gaugeFunction(
            "bot_access_outbox_unsent", help: "Messages of the access workflow (asks, codes, results, notices, notifications) not sent yet.") {
            [([], Double(store.current.access.unsentCount))]
        }
    }

    /// The etcd metrics (`BOT_ELECTION=etcd` only): failed etcd requests by request and whether
    /// the last request worked. Returns what records one request's outcome.
    func attachEtcd() -> @Sendable (_ request: String, _ succeeded: Bool) -> Void {
        let failures = registry.counter(
            "bot_etcd_request_failures_total", help: "etcd requests (election, state, claims) that failed: etcd unreachable, refused or too slow.",
            labelNames: ["request"])
        for request in Self.etcdRequests { _ = failures.labels(request) }
        let up = registry.gauge("bot_etcd_up", help: "1 while the last etcd request succeeded, 0 after one failed.").labels()
        return { [self] request, succeeded in
            if !succeeded { failures.labels(request).inc() }
            up.set(succeeded ? 1 : 0)
            etcdLastRequestWorked.withLock { $0 = succeeded }
        }
    }

    /// Whether the last etcd request worked (nil: etcd not used, or no request yet).
    var etcdReachable: Bool? { etcdLastRequestWorked.withLock { $0 } }

    /// How long the etcd leader may still act without a renewal, at scrape time.
    func attach(election: EtcdLeaderElection) {
        registry.gaugeFunction(
            "bot_etcd_lease_remaining_seconds",
            help: "Seconds this leader may still act without another lease renewal (its fence deadline); 0 unless leading.") {
            let left = election.fenceDeadline.map { $0 - .now } ?? .zero
            return [([], max(0, left.inSeconds))]
        }
    }

    /// The etcd requests counted by name.
    static let etcdRequests = ["grant_lease", "campaign", "keepalive", "watch", "read_state", "write_state", "claim"]

    /// Exports the gateway client's own counters at scrape time.
    func attach(gateway: GatewayClient) {
        registry.counterFunction(
            "bot_gateway_requests_total", help: "Requests to each gateway URL, by outcome (success: answered; failure: transport error, 5xx or bad answer).",
            labelNames: ["instance", "outcome"]
        ) {
            gateway.instanceStats().flatMap { s in
                [([s.url, "success"], Double(s.successes)), ([s.url, "failure"], Double(s.failures))]
            }
        }
        registry.counterFunction(
            "bot_gateway_invalid_answers_total",
            help: "Gateway answers refused as unsound (code not the declared number of ASCII digits, another label, or times off by more than a period); the user got \"try again\".",
            labelNames: ["instance"]
        ) {
            gateway.instanceStats().map { ([$0.url], Double($0.invalidAnswers)) }
        }
        registry.counterFunction("bot_gateway_failovers_total", help: "Requests moved from a failed gateway URL to the next one.") {
            [([], Double(gateway.failoverCount))]
        }
        registry.counterFunction(
            "bot_gateway_attempts_total", help: "Attempts sent to each gateway URL (first tries, failovers and probes).",
            labelNames: ["instance"]
        ) {
            gateway.instanceStats().map { ([$0.url], Double($0.attempts)) }
        }
        registry.gaugeFunction(
            "bot_gateway_circuit_open", help: "1 while the circuit breaker of a gateway URL is open (skipped, or one probe in flight), else 0.",
            labelNames: ["instance"]
        ) {
            gateway.instanceStats().map { ([$0.url], $0.circuitOpen ? 1 : 0) }
        }
    }
}
