#if canImport(Glibc)
import Glibc
#endif
import Platform
import TOTP
import Synchronization
import CurlHTTP

/// The leader's `LeaderState`, in memory and in its `LeaderStateStorage`: every change is
/// written at once, in order, under the lock, so the storage always holds the latest state.
/// With the lock files that is `BOT_STATE_DIR/watermark.json` (`LeaderStateFile`: temp file,
/// fsync, rename, directory fsync); with etcd one key written under the leader's fence
/// (`EtcdLeaderStateStorage`). Only the leader writes, and each write carries its election
/// epoch (`claim`): a write is refused when another bot has taken over (the file holds a newer
/// epoch; etcd's leader key is not this leader's) and this one must stop (`onSuperseded`).
///
/// Exactly-once rests on these writes, so their health is tracked: after a failed write (a
/// full disk, lost permissions) `writeFailure` says why until a write succeeds again (the
/// leader answers nothing meanwhile and retries with `retryWrite`); the change from one
/// failing stretch to the next is logged once each way (`state_write_failed`,
/// `state_write_recovered`) and shown in `bot_state_writable` / `bot_state_write_failures_total`.
///
/// ```swift
/// let store = LeaderStateStore(directory: "/var/lib/totp-bot")
/// try store.load()                               // what the previous leader left
/// try store.claim(epoch: 7)                      // this leader's epoch, written at once
/// try store.update { $0.advance(to: 1234) }
/// store.current.lastMessageID                    // 1234
/// ```
final class LeaderStateStore: Sendable {
    /// Why a change could not be written. The change is kept in memory after an I/O failure
    /// (the next write carries it), not after `superseded`.
    struct WriteFailure: Error, CustomStringConvertible {
        /// What went wrong.
        enum Kind: Sendable, Equatable {
            case io
            case superseded
        }

        let kind: Kind
        let description: String
    }

    /// Where the state lives (`storage.location`): the file's path, or the etcd key.
    let path: String
    let storage: any LeaderStateStorage
    private let state = Mutex(LeaderState())
    /// Why the last write failed; nil while writes succeed.
    private let failure = Mutex<String?>(nil)
    private let onSuperseded: @Sendable (String) -> Void
    private let logger: Logger?
    private let metrics: BotMetrics?

    static func path(in directory: String) -> String { directory + "/watermark.json" }

    /// The lock every leader of `directory` holds (`LeaderLock`), whatever its `BOT_LOCK_FILE`.
    static func lockPath(in directory: String) -> String { directory + "/leader.lock" }

    /// The state in `directory/watermark.json` (the lock files' storage).
    convenience init(directory: String, logger: Logger? = nil, metrics: BotMetrics? = nil,
                     onSuperseded: @escaping @Sendable (String) -> Void = { _ in }) {
        self.init(storage: LeaderStateFile(directory: directory), logger: logger, metrics: metrics, onSuperseded: onSuperseded)
    }

    init(storage: any LeaderStateStorage, logger: Logger? = nil, metrics: BotMetrics? = nil,
         onSuperseded: @escaping @Sendable (String) -> Void = { _ in }) {
        self.storage = storage
        path = storage.location
        self.logger = logger
        self.metrics = metrics
        self.onSuperseded = onSuperseded
        metrics?.stateWritable.set(1)
    }

    /// Why the state cannot be saved right now (nil: it can). While set, the leader must not
    /// answer: a reply whose record cannot be kept could be sent again by the next leader.
    var writeFailure: String? { failure.withLock { $0 } }

    /// Writes the state in memory again while writes fail; true once they succeed.
    @discardableResult
    func retryWrite() -> Bool {
        guard writeFailure != nil else { return true }
        let result = state.withLock { s -> WriteFailure? in
            guard let bytes = s.encoded(now: Logger.wallClock().seconds) else { return nil }
            return storage.write(bytes, epoch: s.epoch, watermark: s.lastMessageID)
        }
        record(result)
        return result == nil
    }

    /// The epoch in the state file of `directory`, 0 without one (a new leader's lies above it).
    static func epochOnDisk(directory: String) -> Int {
        LeaderStateFile(directory: directory).storedEpoch ?? 0
    }

    /// Reads the state; none means "no watermark yet", an unreadable one is an error.
    /// What is read replaces the state in memory unless it is behind it (this process led
    /// before and a write failed): the previous leader wrote it after we last led.
    @discardableResult
    func load() throws(ConfigProblem) -> LeaderState {
        guard let bytes = try storage.read() else { return current }
        guard let read = LeaderState.decode(bytes) else {
            throw ConfigProblem(source: path, message: "is not a watermark record; delete it to start from the newest message")
        }
        return state.withLock { s in
            if (read.lastMessageID ?? Int.min) >= (s.lastMessageID ?? Int.min) {
                let epoch = s.epoch
                s = read
                // A claimed epoch stays ours: the file's is the previous leader's.
                if let epoch { s.epoch = max(epoch, read.epoch ?? 0) }
            }
            return s
        }
    }

    var current: LeaderState { state.withLock { $0 } }

    /// Makes `epoch` this leader's: every later write carries it, and it is written now (when
    /// there is a watermark), so an older leader's next write is refused.
    func claim(epoch: Int) throws(WriteFailure) {
        try update { $0.epoch = epoch }
    }

    /// Applies `change` and, if the state changed, writes the file before returning. After an
    /// I/O failure the change stays in memory (the next write that succeeds carries it), unless
    /// `keepOnFailure` is false: a promise made before acting (a send is starting, a request
    /// is settled without a reply) must not survive when the act will not happen.
    func update(keepOnFailure: Bool = true, _ change: (inout LeaderState) -> Void) throws(WriteFailure) {
        var unchanged = false
        let result = state.withLock { (s: inout LeaderState) -> WriteFailure? in
            var next = s
            change(&next)
            guard next != s else {
                unchanged = true
                return nil
            }
            // Without a watermark there is nothing a next leader could use yet.
            guard let bytes = next.encoded(now: Logger.wallClock().seconds) else {
                s = next
                unchanged = true
                return nil
            }
            let failed = storage.write(bytes, epoch: next.epoch, watermark: next.lastMessageID)
            if failed == nil || keepOnFailure { s = next }
            return failed
        }
        // Nothing written says nothing about whether writes work (a tick that changed nothing,
        // a state without a watermark yet, must not end a failing stretch).
        if unchanged { return }
        record(result)
        guard let result else { return }
        if result.kind == WriteFailure.Kind.superseded { onSuperseded(result.description) }
        throw result
    }

    /// Tracks write health: counts failures, logs the first of a stretch and the recovery.
    private func record(_ result: WriteFailure?) {
        guard result?.kind != .superseded else { return }
        let reason = result?.description
        let before = failure.withLock { f -> String?? in
            let old = f
            f = reason
            // Report only a change between working and failing, not every failed write.
            return (old == nil) != (reason == nil) ? .some(old) : .none
        }
        if reason != nil { metrics?.stateWriteFailures.inc() }
        guard case .some = before else { return }
        metrics?.stateWritable.set(reason == nil ? 1 : 0)
        if let reason {
            logger?.error("state_write_failed", [
                "error": .string(reason),
                "message": "the leader's state cannot be saved, so it answers no DM until it can (a reply it could not record might be sent twice); it retries every second; free space or fix permissions in BOT_STATE_DIR",
            ])
        } else {
            logger?.info("state_write_recovered", ["message": "the leader's state is saved again; answering the DMs that waited"])
        }
    }
}
