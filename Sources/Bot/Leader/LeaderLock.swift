#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Shared
import Synchronization

/// Leader election with `flock(LOCK_EX)` on `BOT_LOCK_FILE`. The file is opened once,
/// `O_CLOEXEC` (a child must not inherit and keep the lock), and never opened anywhere else in
/// the process: unlike `fcntl` locks, a flock survives other descriptors of the file being
/// closed, but one descriptor is simplest to reason about. The blocking `flock` runs on a
/// dedicated thread; the kernel grants it as soon as the holder dies (even by SIGKILL).
/// On acquiring, the holder bumps the epoch and writes its `LeaderRecord` through the same
/// descriptor. Releasing (closing the descriptor) is the very last step of a shutdown.
///
/// ```swift
/// let lock = try LeaderLock(path: "/run/totp-bot/leader.lock")
/// lock.acquireInBackground { record in print("leader, epoch \(record.epoch)") }
/// // ... on shutdown:
/// lock.release()
/// ```
final class LeaderLock: Sendable {
    /// The lock's state machine: waiting in flock, held (with its epoch), or released.
    enum State: Sendable, Equatable {
        /// Opened, not yet asked for the lock.
        case idle
        /// A thread is blocked in `flock`; someone else leads.
        case waiting
        /// We hold the lock.
        case leader(LeaderRecord)
        /// The descriptor is closed; the lock (if held) is gone.
        case released
    }

    /// Why the lock file could not be used.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let path: String
    private let fd: Int32
    private let state = Mutex<State>(.idle)

    init(path: String) throws(Failure) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Failure(description: "BOT_LOCK_FILE \(path): cannot open: \(String(cString: strerror(errno))); create its directory and make it writable for the bot")
        }
        self.fd = fd
    }

    var current: State { state.withLock { $0 } }

    var isLeader: Bool {
        if case .leader = current { return true }
        return false
    }

    /// Tries once without blocking (used by tests; `--check-config` never touches the lock);
    /// returns the record when acquired.
    func tryAcquire() throws(Failure) -> LeaderRecord? {
        guard beginWaiting() else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            state.withLock { if $0 == .waiting { $0 = .idle } }
            if err == EWOULDBLOCK { return nil }
            throw Failure(description: "flock \(path): \(String(cString: strerror(err)))")
        }
        return try becomeLeader()
    }

    /// Blocks a dedicated thread in `flock(LOCK_EX)`; calls `onAcquired` on that thread once
    /// the lock is ours, or `onError` if flock fails for another reason than EINTR.
    func acquireInBackground(onAcquired: @escaping @Sendable (LeaderRecord) -> Void, onError: @escaping @Sendable (Failure) -> Void) {
        guard beginWaiting() else { return }
        BotThread.spawn(name: "leader-lock") { [self] in
            while flock(fd, LOCK_EX) != 0 {
                let err = errno
                if err == EINTR { continue }
                if current == .released { return }
                onError(Failure(description: "flock \(path): \(String(cString: strerror(err)))"))
                return
            }
            do throws(Failure) {
                let record = try becomeLeader()
                onAcquired(record)
            } catch {
                onError(error)
            }
        }
    }

    /// Closes the descriptor, which drops the lock at once. Idempotent.
    func release() {
        let wasOpen = state.withLock { state -> Bool in
            if state == .released { return false }
            state = .released
            return true
        }
        if wasOpen { Syscall.close(fd) }
    }

    private func beginWaiting() -> Bool {
        state.withLock { state in
            guard state == .idle else { return false }
            state = .waiting
            return true
        }
    }

    private func becomeLeader() throws(Failure) -> LeaderRecord {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let previous = n > 0 ? LeaderRecord.parse(Array(buffer[0..<n])) : nil
        let now = Logger.wallClock()
        let record = LeaderRecord(
            epoch: (previous?.epoch ?? 0) + 1, pid: Int(getpid()), host: Self.hostname(),
            since: Logger.iso8601(seconds: now.seconds, nanoseconds: now.nanoseconds))
        let bytes = Array(record.json.utf8)
        // The record is informational: a failed write must not cost the leadership.
        _ = ftruncate(fd, 0)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = fsync(fd)
        let released = state.withLock { state -> Bool in
            if state == .released { return true }
            state = .leader(record)
            return false
        }
        if released { throw Failure(description: "lock released while acquiring") }
        return record
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
