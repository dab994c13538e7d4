import FoundationEssentials
import Synchronization
import Platform
import CurlHTTP

/// Asks the TOTP gateways for a code, failing over between instances. Each attempt has its
/// own timeout and the whole call an overall deadline. Connect errors, timeouts, empty replies,
/// 5xx and unreadable answers move on to the next instance and open that instance's circuit
/// for the cool-down; a 4xx is the gateway's answer and is returned at once, never retried.
/// While every circuit is open, one fetch at a time probes an instance and the others fail at
/// once (`.unavailable`), so a burst of requests to dead gateways does not queue up timeouts.
/// Thread-safe; blocking (call it off any event loop).
///
/// ```swift
/// let gateway = GatewayClient(
///     configuration: GatewayClientConfiguration(baseURLs: ["http://gw1:8080", "http://gw2:8080"], token: token),
///     http: HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot/1.0")))
/// let outcome = gateway.fetchCode(label: "db/prod", next: true, requestID: "req-42")
/// ```
public final class GatewayClient: Sendable {
    public let configuration: GatewayClientConfiguration
    private let http: HTTPClient
    private let now: @Sendable () -> ContinuousClock.Instant
    /// Unix seconds, to judge an answer's `expires_at`.
    private let wallClock: @Sendable () -> Int64
    private let logger: Logger?
    private let baseURLs: [String]
    private let board: Mutex<GatewayCircuitBoard>
    /// Attempts with less time left than this are not started: they could only time out.
    private let minimumAttempt: Duration = .milliseconds(20)

    /// `now` drives deadlines and cool-downs, `wallClock` (unix seconds) judges the answers'
    /// expiry (inject both in tests); `logger` receives one line per failed attempt and circuit
    /// change, never the token or a code.
    public init(
        configuration: GatewayClientConfiguration, http: HTTPClient,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        wallClock: @escaping @Sendable () -> Int64 = { Logger.wallClock().seconds }, logger: Logger? = nil
    ) {
        self.configuration = configuration
        self.http = http
        self.now = now
        self.wallClock = wallClock
        self.logger = logger
        baseURLs = configuration.baseURLs.map { url in
            var url = url
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
        board = Mutex(GatewayCircuitBoard(
            urls: baseURLs, cooldown: configuration.cooldown,
            probeLease: configuration.perAttemptTimeout + .seconds(1)))
    }

    /// Requests moved from a failed instance to another one, since start.
    public var failoverCount: Int { board.withLock { $0.failovers } }

    /// Per-instance counters and circuit state, in configuration order.
    public func instanceStats() -> [GatewayInstanceStats] { board.withLock { $0.stats } }

    /// `GET {base}/code?label=<label>[&next=1]`, trying instances until one answers or the
    /// overall deadline passes. Blocks for at most about `overallDeadline`.
    public func fetchCode(label: String, next: Bool, requestID: String) -> GatewayOutcome {
        let path = "/code?label=" + FormEncoding.percentEncode(label) + (next ? "&next=1" : "")
        switch fetch(path: path, requestID: requestID, judge: { codeVerdict($0, label: label) }) {
        case .answered(let outcome): return outcome
        case .unavailable(let reason): return .unavailable(reason: reason)
        }
    }

    /// `GET {base}/labels`: the labels the bot's token may request, with their parameters;
    /// failover and deadlines as for codes.
    public func fetchLabels(requestID: String) -> GatewayLabelsOutcome {
        switch fetch(path: "/labels", requestID: requestID, judge: labelsVerdict) {
        case .answered(let outcome): return outcome
        case .unavailable(let reason): return .unavailable(reason: reason)
        }
    }

    /// How a fetch across the instances ended.
    private enum Fetched<Answer> {
        case answered(Answer)
        case unavailable(String)
    }

    /// `GET {base}{path}` on one instance after another (round robin, circuit breakers,
    /// failover) until `judge` accepts an answer or the overall deadline passes.
    private func fetch<Answer>(path: String, requestID: String, judge: (HTTPClientResponse) -> Verdict<Answer>) -> Fetched<Answer> {
        let started = now()
        let deadline = started + configuration.overallDeadline
        let start = board.withLock { $0.takeRoundRobinStart() }
        var tried = Set<Int>()
        var probeUsed = false
        var failed: Int? = nil
        var problems: [String] = []
        // The ID is echoed into a header: keep visible ASCII only so it can never split one.
        let requestID = String(String.UnicodeScalarView(
            requestID.unicodeScalars.filter { $0.value > 0x20 && $0.value < 0x7F }.prefix(128)))

        while true {
            let attemptStart = now()
            let left = deadline - attemptStart
            if left < minimumAttempt {
                problems.append("overall deadline of \(configuration.overallDeadline) passed")
                break
            }
            let pick = board.withLock {
                $0.next(excluding: tried, start: start, probeUsed: probeUsed, after: failed, now: attemptStart)
            }
            guard let (index, role) = pick else {
                if tried.isEmpty {
                    problems.append("every gateway instance failed within the last \(configuration.cooldown) and one is being retried; not waiting for it")
                }
                break
            }
            tried.insert(index)
            if role != .healthy { probeUsed = true }

            let timeout = min(configuration.perAttemptTimeout, left)
            var request = HTTPClientRequest(
                method: "GET", url: baseURLs[index] + path,
                headers: [
                    ("Authorization", "Bearer " + configuration.token),
                    ("X-Request-ID", requestID),
                    ("Accept", "application/json"),
                ],
                timeout: timeout, connectTimeout: timeout)
            request.caFile = configuration.caFile
            request.userAgent = configuration.userAgent

            let verdict: Verdict<Answer>
            do {
                verdict = judge(try http.perform(request))
            } catch {
                // 1 unsupported protocol, 3 malformed URL, 43 header refused by HTTPClient.validate.
                verdict = [1, 3, 43].contains(error.curlCode) ? .unusable("\(error.kind): \(error.message)") : .failed("\(error.kind): \(error.message)")
            }
            switch verdict {
            case .answered(let answer):
                let reopened = board.withLock { $0.recordSuccess(index) }
                if reopened {
                    logger?.info("gateway_circuit_closed", ["url": .string(baseURLs[index]), "request_id": .string(requestID)])
                }
                return .answered(answer)
            case .unusable(let problem):
                // Our request, not the instance, is at fault (bad URL or token): every instance
                // would refuse it the same way, so stop without opening any circuit.
                logger?.error("gateway_request_invalid", ["url": .string(baseURLs[index]), "problem": .string(problem)])
                return .unavailable("\(baseURLs[index]): \(problem); check the gateway URL and token configuration")
            case .failed(let problem), .invalid(let problem):
                let invalid = if case .invalid = verdict { true } else { false }
                let opened = board.withLock { $0.recordFailure(index, now: now(), invalidAnswer: invalid) }
                problems.append("\(baseURLs[index]): \(problem)")
                if invalid {
                    // An instance that answers but not with a sound code: compromised, or a
                    // man in the middle on a plain-HTTP path. Never worth a warning only.
                    logger?.error("gateway_answer_invalid", [
                        "url": .string(baseURLs[index]), "problem": .string(problem), "request_id": .string(requestID),
                        "message": "the gateway's answer was refused and not shown to the user; check that instance and the path to it (use https)",
                    ])
                } else {
                    logger?.warning("gateway_attempt_failed", [
                        "url": .string(baseURLs[index]), "problem": .string(problem),
                        "role": .string("\(role)"), "request_id": .string(requestID),
                    ])
                }
                if opened {
                    logger?.warning("gateway_circuit_open", [
                        "url": .string(baseURLs[index]), "cooldown_ms": .int(Int(configuration.cooldown.inMilliseconds)),
                    ])
                }
                failed = index
            }
        }
        let reason = problems.isEmpty ? "no gateway instance configured" : problems.joined(separator: "; ")
        logger?.error("gateway_unavailable", ["attempts": .int(tried.count), "request_id": .string(requestID)])
        return .unavailable(reason)
    }

    /// How one attempt ended: an answer to return, or a reason to try the next instance.
    private enum Verdict<Answer> {
        /// The instance gave an answer (a code, a list or a 4xx): stop here.
        case answered(Answer)
        /// The instance could not answer: try another.
        case failed(String)
        /// The request could not even be sent (malformed URL or header).
        case unusable(String)
        /// A 200 whose content is not sound (`GatewayCode.problem`): try another.
        case invalid(String)
    }

    private func codeVerdict(_ response: HTTPClientResponse, label: String) -> Verdict<GatewayOutcome> {
        verdict(response, refused: { .refused(status: $0, error: $1) }) {
            guard let wire = try? JSONDecoder().decode(GatewayCodeWire.self, from: Data(response.body)) else {
                return .failed("status 200 with a body that is not a code")
            }
            if let problem = wire.value.problem(askedLabel: label, now: wallClock()) {
                return .invalid("status 200 with an unsound code answer: \(problem)")
            }
            return .answered(.code(wire.value))
        }
    }

    private func labelsVerdict(_ response: HTTPClientResponse) -> Verdict<GatewayLabelsOutcome> {
        verdict(response, refused: { .refused(status: $0, error: $1) }) {
            guard let wire = try? JSONDecoder().decode(GatewayLabelsWire.self, from: Data(response.body)) else {
                return .failed("status 200 with a body that is not a label list")
            }
            return .answered(.labels(wire.labels))
        }
    }

    /// A 200 is judged by `ok`; a 4xx is the gateway's answer (`refused`), never retried; 5xx
    /// (502/503/504 from HAProxy, 500 from the gateway) and anything unexpected: another instance.
    private func verdict<Answer>(_ response: HTTPClientResponse, refused: (Int, String) -> Answer,
                                 ok: () -> Verdict<Answer>) -> Verdict<Answer> {
        switch response.status {
        case 200: ok()
        case 400..<500: .answered(refused(response.status, Self.errorName(response)))
        default: .failed("status \(response.status)")
        }
    }

    /// The JSON `error` field of a refusal, or `http_<status>`.
    private static func errorName(_ response: HTTPClientResponse) -> String {
        (try? JSONDecoder().decode(GatewayErrorWire.self, from: Data(response.body)))?.error ?? "http_\(response.status)"
    }
}
