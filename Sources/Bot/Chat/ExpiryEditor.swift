import Dispatch
import Platform
import HTTPServer
import Synchronization
import CurlHTTP

/// Edits a reply once its code has expired, so old codes do not sit in the chat history.
/// Each pending edit is a Dispatch timer and an entry in the leader's state file, so a new
/// leader finishes the edits of one that was killed (`resume`). On shutdown `flush` does the
/// pending edits at once (the codes expire within the period anyway) until a deadline; any it
/// could not do stay in the state file for the next leader. A realm that forbids edits is
/// logged once, then edits are attempted quietly. Each edit is asked for first (`claim`): only
/// while leading and, with etcd, under its claim, so a deposed leader edits nothing.
///
/// ```swift
/// editor.schedule(messageID: 99, label: "certus", dueAt: nowUnix + 17)
/// editor.resume(store.current.pendingEdits)     // after a takeover
/// editor.flush(until: .now + .seconds(3))       // on SIGTERM
/// ```
final class ExpiryEditor: Sendable {
    /// Lifecycle: editing when due, or flushing/stopped (timers no longer edit).
    enum Phase: Sendable, Equatable {
        case running
        case flushing
        case stopped
    }

    /// Pending edits by message id, the phase, and whether the realm forbids edits.
    private struct State {
        var pending: [Int: PendingEdit] = [:]
        var phase: Phase = .running
        var warnedRefusal = false
    }

    /// How one edit ended.
    private enum Result {
        case edited, refused, failed
        /// Not this process's to do now (no longer leading): left in the state for the next leader.
        case notLeading
        /// Another leader claimed this edit (etcd): it does it.
        case claimedElsewhere

        /// Nothing left to do for this edit here.
        var settled: Bool { self != .failed && self != .notLeading }
    }

    private let queue = DispatchQueue(label: "expiry-editor")
    private let state = Mutex(State())
    private let store: LeaderStateStore?
    private let edit: @Sendable (Int, String, Duration?) throws(ZulipError) -> Void
    /// Asked right before each edit: whether this process still leads and (etcd) holds the
    /// edit's claim (the reply's message id).
    private let claim: @Sendable (Int) -> MessageClaim
    private let logger: Logger
    private let metrics: BotMetrics
    private let wallClock: @Sendable () -> Double

    /// `edit(messageID, content, timeout)` changes a message; `store` persists the pending edits.
    init(logger: Logger, metrics: BotMetrics, store: LeaderStateStore?,
         wallClock: @escaping @Sendable () -> Double = ExpiryEditor.unixNow,
         claim: @escaping @Sendable (Int) -> MessageClaim = { _ in .proceed },
         edit: @escaping @Sendable (Int, String, Duration?) throws(ZulipError) -> Void) {
        self.claim = claim
        self.logger = logger
        self.metrics = metrics
        self.store = store
        self.wallClock = wallClock
        self.edit = edit
    }

    static let unixNow: @Sendable () -> Double = {
        let t = Logger.wallClock()
        return Double(t.seconds) + Double(t.nanoseconds) / 1e9
    }

    var phase: Phase { state.withLock { $0.phase } }

    /// Edits `messageID` to "expired" at `dueAt` (unix seconds).
    /// After a flush (a reply that finished late during shutdown) the edit is only saved, for
    /// the next leader.
    func schedule(messageID: Int, label: String, dueAt: Double) {
        let entry = PendingEdit(messageID: messageID, label: label, dueAt: dueAt)
        let armed = add(entry)
        persist { state in
            state.pendingEdits.removeAll { $0.messageID == messageID }
            state.pendingEdits.append(entry)
        }
        if armed { arm(entry) }
    }

    /// Takes over edits a previous leader left in the state file (already persisted).
    func resume(_ edits: [PendingEdit]) {
        for entry in edits where add(entry) { arm(entry) }
        if !edits.isEmpty {
            logger.info("expiry_edits_resumed", ["count": .int(edits.count)])
        }
    }

    /// Stops the timers and does every pending edit now, one after the other, until
    /// `deadline`; what is left (or failed) stays in the state file. Returns (done, left).
    @discardableResult
    func flush(until deadline: ContinuousClock.Instant) -> (done: Int, left: Int) {
        let todo = state.withLock { s -> [PendingEdit] in
            guard s.phase == .running else { return [] }
            s.phase = .flushing
            return s.pending.values.sorted { $0.dueAt < $1.dueAt }
        }
        var done = 0
        for entry in todo {
            let left = deadline - .now
            guard left > .milliseconds(100) else { break }
            if perform(entry, timeout: min(left, .seconds(3)), retries: false).settled { done += 1 }
        }
        state.withLock { $0.phase = .stopped }
        return (done, todo.count - done)
    }

    private func add(_ entry: PendingEdit) -> Bool {
        state.withLock { s in
            guard s.phase == .running, s.pending[entry.messageID] == nil else { return false }
            s.pending[entry.messageID] = entry
            return true
        }
    }

    private func arm(_ entry: PendingEdit) {
        let delay = max(0, entry.dueAt - wallClock())
        queue.asyncAfter(deadline: .now() + .milliseconds(Int(min(delay, 86_400) * 1000))) { [self] in
            let go = state.withLock { s in s.phase == .running && s.pending[entry.messageID] != nil }
            if go { _ = perform(entry, timeout: nil, retries: true) }
        }
    }

    private func perform(_ entry: PendingEdit, timeout: Duration?, retries: Bool) -> Result {
        let result = attempt(entry, timeout: timeout, retries: retries)
        state.withLock { _ = $0.pending.removeValue(forKey: entry.messageID) }
        // A flush that failed leaves the edit to the next leader; a timer that failed three
        // times gives up on it. One that may not act now leaves it to the next leader too.
        if result != .notLeading && (result != .failed || retries) {
            persist { $0.pendingEdits.removeAll { $0.messageID == entry.messageID } }
        }
        return result
    }

    private func attempt(_ entry: PendingEdit, timeout: Duration?, retries: Bool) -> Result {
        switch claim(entry.messageID) {
        case .proceed:
            break
        case .claimedElsewhere(let token):
            logger.info("expiry_edit_claimed_elsewhere", ["message_id": .int(entry.messageID), "claimed_by_token": .int(Int(token))])
            return .claimedElsewhere
        case .refused(let why):
            logger.warning("expiry_edit_not_leading", ["message_id": .int(entry.messageID), "reason": .string(why)])
            return .notLeading
        }
        let attempts = retries ? 3 : 1
        for attempt in 1...attempts {
            do {
                try edit(entry.messageID, ReplyFormatter.expired(label: entry.label), timeout)
                metrics.expiryEdits.labels("edited").inc()
                logger.info("reply_expired_edited", ["message_id": .int(entry.messageID), "label": .string(entry.label)])
                return .edited
            } catch {
                let transient = error.code == .rateLimited || error.code == .server || error.code == .network
                if transient && attempt < attempts {
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
                            "message_id": .int(entry.messageID), "zulip_code": .string(error.zulipCode ?? ""),
                            "message": "Zulip refused to edit the reply (message editing may be disabled in this organization); old codes stay visible. Logged once.",
                        ])
                    }
                    return .refused
                default:
                    metrics.expiryEdits.labels("failed").inc()
                    logger.warning("expiry_edit_failed", ["message_id": .int(entry.messageID), "error": .string(error.description)])
                    return .failed
                }
            }
        }
        return .failed
    }

    /// A failure is the store's to log and count; the change stays in memory for the next write.
    private func persist(_ change: (inout LeaderState) -> Void) {
        try? store?.update(change)
    }
}
