#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Platform
import TOTP
import HTTPServer
import Synchronization
import CurlHTTP

/// Leader election with `flock(LOCK_EX)` on `BOT_LOCK_FILE` and on `BOT_STATE_DIR/leader.lock`
/// (one file when they are the same, the default): whoever holds both leads, so one state
/// directory is never led twice, even by bots given different `BOT_LOCK_FILE`s. Files are
/// opened `O_CLOEXEC` (a child must not inherit and keep a lock) and locked in inode order, so
/// two bots with crossed settings cannot deadlock. The blocking `flock` runs on a dedicated
/// thread; the kernel grants it as soon as the holder dies (even by SIGKILL).
///
/// A flock belongs to the open file, not to the path: once the file is deleted or replaced,
/// the next bot creates a new file and locks that, and two bots lead. So a lock counts only
/// while each path still names the very file locked (`fstat` of the descriptor against `stat`
/// of the path: device and inode): checked after every `flock` (a standby that waited on a
/// deleted file reopens the path and waits again), and while leading by `startMonitoring` a few
/// times a second and by `verify` before each reply; a lost lock is reported, and the leader
/// stops (`Leadership`). On acquiring, the holder bumps the epoch (above every lock file's and
/// `minimumEpoch`, the state file's) and writes its `LeaderRecord` into each lock file.
/// Releasing (closing the descriptors) is the very last step of a shutdown.
///
/// ```swift
/// let lock = try LeaderLock(path: "/run/totp-bot/leader.lock", stateLock: "/var/lib/totp-bot/leader.lock")
/// lock.acquireInBackground(onAcquired: { record in print("leader, epoch \(record.epoch)") }, onError: { _ in })
/// lock.startMonitoring(every: .milliseconds(250)) { problem in /* stop leading */ }
/// // ... on shutdown:
/// lock.release()
/// ```
final class LeaderLock: Sendable {
    /// The lock files' own state machine (their descriptors): waiting in flock, held (with its
    /// epoch), or released. Whether the bot leads, and what it does about it, is `Leadership`'s:
    /// this lock reports to it as a `LeaderElection`.
    enum State: Sendable, Equatable {
        /// Opened, not yet asked for the lock.
        case idle
        /// A thread is blocked in `flock`; someone else leads.
        case waiting
        /// We hold the lock.
        case leader(LeaderRecord)
        /// The descriptors are closed; the lock (if held) is gone.
        case released
    }

    /// Why the lock file could not be used.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// One open lock file and the identity of the file it opened.
    private struct Handle: Sendable {
        let path: String
        let fd: Int32
        let device: UInt64
        let inode: UInt64
    }

    let path: String
    /// `BOT_LOCK_FILE`, then the state directory's lock if it is another path.
    let paths: [String]
    private let minimumEpoch: @Sendable () -> Int
    private let logger: Logger?
    private let handles: Mutex<[Handle]>
    private let state = Mutex<State>(.idle)

    /// Opens every lock file now, so a path that cannot be used is an error at start.
    /// `minimumEpoch` is read when the lock is won: the new epoch lies above it.
    init(path: String, stateLock: String? = nil, minimumEpoch: @escaping @Sendable () -> Int = { 0 }, logger: Logger? = nil)
        throws(Failure)
    {
        self.path = path
        paths = [path] + (stateLock.map { $0 == path ? [] : [$0] } ?? [])
        self.minimumEpoch = minimumEpoch
        self.logger = logger
        handles = Mutex(try Self.open(paths))
    }

    deinit {
        for handle in handles.withLock({ $0 }) { Syscall.close(handle.fd) }
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
        do throws(Failure) {
            guard try lockAll(blocking: false) else {
                state.withLock { if $0 == .waiting { $0 = .idle } }
                return nil
            }
            return try becomeLeader()
        } catch {
            state.withLock { if $0 == .waiting { $0 = .idle } }
            throw error
        }
    }

    /// Blocks a dedicated thread in `flock(LOCK_EX)`; calls `onAcquired` on that thread once
    /// the lock is ours, or `onError` if flock fails for another reason than EINTR.
    func acquireInBackground(onAcquired: @escaping @Sendable (LeaderRecord) -> Void, onError: @escaping @Sendable (Failure) -> Void) {
        guard beginWaiting() else { return }
        NamedThread.detach(name: "leader-lock") { [self] in
            do throws(Failure) {
                guard try lockAll(blocking: true) else { return }
                let record = try becomeLeader()
                onAcquired(record)
            } catch {
                if current == .released { return }
                onError(error)
            }
        }
    }

    /// While leading, checks `verify` every `interval` on a thread of its own; the first
    /// problem is handed to `onLost` (once) and the checking ends.
    func startMonitoring(every interval: Duration, onLost: @escaping @Sendable (String) -> Void) {
        NamedThread.detach(name: "leader-lock-check") { [self] in
            while isLeader {
                Sleep.for(interval)
                guard isLeader else { return }
                if let problem = verify() {
                    onLost(problem)
                    return
                }
            }
        }
    }

    /// nil while every lock path still names the file this process locked; otherwise what
    /// happened to it. Cheap (one `stat` per file): call it before acting as the leader.
    func verify() -> String? {
        guard isLeader else { return "this process does not hold the leader lock" }
        for handle in handles.withLock({ $0 }) {
            if let problem = Self.identityProblem(handle) { return problem }
        }
        return nil
    }

    /// Closes the descriptors, which drops the lock at once. Idempotent.
    func release() {
        let wasOpen = state.withLock { state -> Bool in
            if state == .released { return false }
            state = .released
            return true
        }
        guard wasOpen else { return }
        let open = handles.withLock { h -> [Handle] in
            defer { h = [] }
            return h
        }
        for handle in open { Syscall.close(handle.fd) }
    }

    // MARK: - Acquiring

    private func beginWaiting() -> Bool {
        state.withLock { state in
            guard state == .idle else { return false }
            state = .waiting
            return true
        }
    }

    /// Locks every file in inode order; true once all are held and every path still names
    /// its file. A file deleted or replaced meanwhile: everything is unlocked, the paths are
    /// opened again (creating the file) and it starts over. Non-blocking: false as soon as
    /// one is taken (nothing stays locked).
    private func lockAll(blocking: Bool) throws(Failure) -> Bool {
        var reportedBusy = Set<String>()
        while true {
            if current == .released { return false }
            let files = handles.withLock { $0 }
            var locked: [Handle] = []
            var stale = false
            for handle in files {
                if flock(handle.fd, LOCK_EX | LOCK_NB) != 0 {
                    let err = errno
                    guard err == EWOULDBLOCK || err == EINTR else {
                        unlock(locked)
                        throw Failure(description: "flock \(handle.path): \(String(cString: strerror(err)))")
                    }
                    guard blocking else {
                        unlock(locked)
                        return false
                    }
                    if files.count > 1, reportedBusy.insert(handle.path).inserted {
                        // With two files, say which one is held elsewhere: the state
                        // directory's means a bot with another BOT_LOCK_FILE leads it.
                        logger?.info("leader_lock_waiting", [
                            "path": .string(handle.path),
                            "message": "another bot holds this lock file: it leads this BOT_STATE_DIR, or shares the BOT_LOCK_FILE; waiting as a standby",
                        ])
                    }
                    while flock(handle.fd, LOCK_EX) != 0 {
                        let err = errno
                        if err == EINTR { continue }
                        if current == .released { return false }
                        unlock(locked)
                        throw Failure(description: "flock \(handle.path): \(String(cString: strerror(err)))")
                    }
                }
                locked.append(handle)
                if Self.identityProblem(handle) != nil {
                    stale = true
                    break
                }
            }
            // Every file held: the earlier ones may have been replaced while we waited for a later one.
            if !stale, locked.count == files.count, files.allSatisfy({ Self.identityProblem($0) == nil }) { return true }
            unlock(locked)
            try reopen()
        }
    }

    private func unlock(_ locked: [Handle]) {
        for handle in locked { _ = flock(handle.fd, LOCK_UN) }
    }

    /// Closes the descriptors and opens the paths again (creating files that are gone).
    private func reopen() throws(Failure) {
        let fresh = try Self.open(paths)
        let old = handles.withLock { h -> [Handle] in
            defer { h = fresh }
            return h
        }
        for handle in old { Syscall.close(handle.fd) }
    }

    private func becomeLeader() throws(Failure) -> LeaderRecord {
        let files = handles.withLock { $0 }
        var previous = 0
        for handle in files {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { pread(handle.fd, $0.baseAddress, $0.count, 0) }
            if n > 0, let record = LeaderRecord.parse(Array(buffer[0..<n])) { previous = max(previous, record.epoch) }
        }
        let now = Logger.wallClock()
        let record = LeaderRecord(
            epoch: max(previous, minimumEpoch()) + 1, pid: Int(getpid()), host: HostName.current ?? "unknown",
            since: Logger.iso8601(seconds: now.seconds, nanoseconds: now.nanoseconds))
        let bytes = Array(record.json.utf8)
        for handle in files {
            // The record is informational: a failed write must not cost the leadership.
            _ = ftruncate(handle.fd, 0)
            _ = bytes.withUnsafeBytes { pwrite(handle.fd, $0.baseAddress, $0.count, 0) }
            _ = fsync(handle.fd)
        }
        let released = state.withLock { state -> Bool in
            if state == .released { return true }
            state = .leader(record)
            return false
        }
        if released { throw Failure(description: "lock released while acquiring") }
        return record
    }

    // MARK: - Files

    /// Opens each path; one descriptor per distinct file (a path may be a link to another),
    /// sorted by device and inode: the order every bot locks in.
    private static func open(_ paths: [String]) throws(Failure) -> [Handle] {
        var out: [Handle] = []
        for path in paths {
            let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                let err = errno
                for handle in out { Syscall.close(handle.fd) }
                throw Failure(description: "\(path == paths[0] ? "BOT_LOCK_FILE" : "BOT_STATE_DIR lock") \(path): cannot open: \(String(cString: strerror(err))); create its directory and make it writable for the bot")
            }
            var st = stat()
            guard fstat(fd, &st) == 0 else {
                let err = errno
                Syscall.close(fd)
                for handle in out { Syscall.close(handle.fd) }
                throw Failure(description: "fstat \(path): \(String(cString: strerror(err)))")
            }
            let handle = Handle(path: path, fd: fd, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if out.contains(where: { $0.device == handle.device && $0.inode == handle.inode }) {
                Syscall.close(fd)
            } else {
                out.append(handle)
            }
        }
        return out.sorted { ($0.device, $0.inode) < ($1.device, $1.inode) }
    }

    /// nil when `handle.path` still names the file `handle.fd` has open.
    private static func identityProblem(_ handle: Handle) -> String? {
        var st = stat()
        if stat(handle.path, &st) != 0 {
            let err = errno
            return err == ENOENT ? "\(handle.path) was deleted" : "\(handle.path): stat failed: \(String(cString: strerror(err)))"
        }
        if UInt64(st.st_dev) != handle.device || UInt64(st.st_ino) != handle.inode {
            return "\(handle.path) was replaced by another file"
        }
        return nil
    }

}
