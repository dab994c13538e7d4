import Dispatch
import Shared
import Synchronization

/// Edits a reply once its code has expired, so old codes do not sit in the chat history.
/// Each edit is a Dispatch timer; a realm that forbids edits is logged once, then edits are
/// attempted quietly. On shutdown pending edits are dropped (and counted in the log).
///
/// ```swift
/// editor.schedule(messageID: 99, label: "certus", after: .seconds(17))
/// let dropped = editor.stop()
/// ```
final class ExpiryEditor: Sendable {
    /// Pending edits (message id and due time) and whether the realm forbids edits.
    private struct State {
        var pending: Set<Int> = []
        var stopped = false
        var warnedRefusal = false
    }

    private let queue = DispatchQueue(label: "expiry-editor")
    private let state = Mutex(State())
    private let edit: @Sendable (Int, String) throws(ZulipError) -> Void
    private let logger: Logger
    private let metrics: BotMetrics

    init(logger: Logger, metrics: BotMetrics, edit: @escaping @Sendable (Int, String) throws(ZulipError) -> Void) {
        self.logger = logger
        self.metrics = metrics
        self.edit = edit
    }

    var pendingCount: Int { state.withLock { $0.pending.count } }

    func schedule(messageID: Int, label: String, after delay: Duration) {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.pending.insert(messageID)
            return true
        }
        guard accepted else { return }
        let ns = max(0, Int(delay.components.seconds) * 1_000_000_000 + Int(delay.components.attoseconds / 1_000_000_000))
        queue.asyncAfter(deadline: .now() + .nanoseconds(ns)) { [self] in
            let go = state.withLock { s -> Bool in
                guard !s.stopped, s.pending.remove(messageID) != nil else { return false }
                return true
            }
            if go { perform(messageID: messageID, label: label) }
        }
    }

    /// Drops every pending edit; returns how many were dropped.
    func stop() -> Int {
        state.withLock { s in
            s.stopped = true
            let n = s.pending.count
            s.pending.removeAll()
            return n
        }
    }

    private func perform(messageID: Int, label: String) {
        for attempt in 1...3 {
            do {
                try edit(messageID, ReplyFormatter.expired(label: label))
                metrics.expiryEdits.labels("edited").inc()
                logger.info("reply_expired_edited", ["message_id": .int(messageID), "label": .string(label)])
                return
            } catch {
                let transient = error.code == .rateLimited || error.code == .server || error.code == .network
                if transient && attempt < 3 {
                    Sleep.seconds(min(error.retryAfter ?? Double(attempt), 10))
                    continue
                }
                switch error.code {
                case .badRequest:
                    metrics.expiryEdits.labels("refused").inc()
                    let first = state.withLock { s -> Bool in
                        defer { s.warnedRefusal = true }
                        return !s.warnedRefusal
                    }
                    if first {
                        logger.warning("expiry_edit_refused", [
                            "message_id": .int(messageID), "zulip_code": .string(error.zulipCode ?? ""),
                            "message": "Zulip refused to edit the reply (message editing may be disabled in this organization); old codes stay visible. Logged once.",
                        ])
                    }
                    return
                default:
                    metrics.expiryEdits.labels("failed").inc()
                    logger.warning("expiry_edit_failed", ["message_id": .int(messageID), "error": .string(error.description)])
                    return
                }
            }
        }
    }
}

