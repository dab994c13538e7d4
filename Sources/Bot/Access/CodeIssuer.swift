import Platform

/// Fetches a code for someone and words it, for a reply (`DMHandler`) or an approved request's
/// message (`OutboxSender`): the current code with its seconds left (and the next one near the
/// end of the step), or, when the current code already went to someone else in this step
/// (`ReuseGuard`), the next code and the second it starts. The caller records the hand-out
/// (`record`) once the message is sent.
///
/// ```swift
/// if case .code(let issued) = issuer.issue(label: "prod", for: 31, requestID: "zulip-3040") {
///     send(issued.text); issuer.record(issued, for: 31)
/// }
/// ```
final class CodeIssuer: Sendable {
    /// A code worded for one person.
    struct Issued: Sendable, Equatable {
        var label: String
        var text: String
        /// When the code shown stops being valid (unix seconds): the reply's expiry edit.
        var validUntil: Double
        /// Which step's code was handed out (its expiry), for the reuse guard.
        var stepExpiresAt: Int64
        var instance: String
        /// The current code was someone else's: this is the next one.
        var reused: Bool
    }

    enum Outcome: Sendable, Equatable {
        case code(Issued)
        case refused(status: Int, error: String)
        case unavailable(reason: String)
    }

    private let gateway: GatewayClient
    private let reuse: ReuseGuard

    init(gateway: GatewayClient, reuse: ReuseGuard) {
        self.gateway = gateway
        self.reuse = reuse
    }

    func issue(label: String, for user: Int, requestID: String) -> Outcome {
        let started = ContinuousClock.now
        switch gateway.fetchCode(label: label, next: true, requestID: requestID) {
        case .refused(let status, let error): return .refused(status: status, error: error)
        case .unavailable(let reason): return .unavailable(reason: reason)
        case .code(let c):
            // The gateway's `remaining`, less the time spent since it answered: immune to clock
            // differences between the bot and the gateway.
            let elapsed = Int((ContinuousClock.now - started).components.seconds)
            let remaining = max(0, c.remaining - elapsed)
            let now = Double(Logger.wallClock().seconds)
            if reuse.takenByOther(label: label, expiresAt: c.expiresAt, user: user), let next = c.nextCode, let nextUntil = c.nextExpiresAt {
                let text = ReplyFormatter.reusedCode(next: next, label: label, startsIn: remaining, startsAt: c.expiresAt, validUntil: nextUntil)
                return .code(Issued(label: label, text: text, validUntil: now + Double(remaining + c.period), stepExpiresAt: nextUntil,
                                    instance: c.instance, reused: true))
            }
            var next: (code: String, startsIn: Int, validUntil: Int64)? = nil
            if remaining < ReplyFormatter.nextCodeThreshold, let nextCode = c.nextCode, let until = c.nextExpiresAt {
                next = (nextCode, remaining, until)
            }
            let text = ReplyFormatter.code(code: c.code, label: label, remaining: remaining, next: next)
            return .code(Issued(label: label, text: text, validUntil: now + Double(remaining + (next == nil ? 0 : c.period)),
                                stepExpiresAt: c.expiresAt, instance: c.instance, reused: false))
        }
    }

    /// The code went out to `user`.
    func record(_ issued: Issued, for user: Int) {
        reuse.record(label: issued.label, expiresAt: issued.stepExpiresAt, user: user)
    }
}
