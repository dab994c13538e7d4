#if canImport(Glibc)
import Glibc
#endif
import Shared
import Synchronization

/// The leader's `LeaderState`, in memory and in `BOT_STATE_DIR/watermark.json`: every change
/// is written at once (`FileIO.writeAtomically`: temp file, fsync, rename, directory fsync),
/// in order, under the lock, so the file always holds the latest state. Only the leader writes.
///
/// ```swift
/// let store = LeaderStateStore(directory: "/var/lib/totp-bot")
/// try store.load()                               // what the previous leader left
/// try store.update { $0.advance(to: 1234) }
/// store.current.lastMessageID                    // 1234
/// ```
final class LeaderStateStore: Sendable {
    let path: String
    private let state = Mutex(LeaderState())

    static func path(in directory: String) -> String { directory + "/watermark.json" }

    init(directory: String) {
        path = Self.path(in: directory)
    }

    /// Reads the file; a missing file means "no watermark yet", an unreadable one is an error.
    /// What is read replaces the state in memory unless it is behind it (this process led
    /// before and a write failed): the previous leader wrote it after we last led.
    @discardableResult
    func load() throws(ConfigProblem) -> LeaderState {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path, maxBytes: 1 << 20) } catch {
            if error.errorNumber == ENOENT { return current }
            throw ConfigProblem(source: "BOT_STATE_DIR", message: "\(error.description); check the directory's permissions")
        }
        guard let read = LeaderState.decode(bytes) else {
            throw ConfigProblem(source: path, message: "is not a watermark record; delete it to start from the newest message")
        }
        return state.withLock { s in
            if (read.lastMessageID ?? Int.min) >= (s.lastMessageID ?? Int.min) { s = read }
            return s
        }
    }

    var current: LeaderState { state.withLock { $0 } }

    /// Applies `change` and, if the state changed, writes the file before returning.
    func update(_ change: (inout LeaderState) -> Void) throws(FileIO.Failure) {
        try state.withLock { (s: inout LeaderState) throws(FileIO.Failure) in
            var next = s
            change(&next)
            guard next != s else { return }
            s = next
            // Without a watermark there is nothing a next leader could use yet.
            guard let bytes = next.encoded(now: Logger.wallClock().seconds) else { return }
            try FileIO.writeAtomically(path, bytes: bytes, mode: 0o600)
        }
    }
}
