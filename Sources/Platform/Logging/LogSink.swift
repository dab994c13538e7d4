#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization

/// Where log lines go: a file descriptor (stderr by default) or, in tests, memory.
/// Each line is written whole under a lock so concurrent threads never interleave.
///
/// A writer never blocks on a slow reader: lines are written without blocking, and what the
/// descriptor does not take (a pipe or socket whose reader fell behind, or went away) waits in
/// a bounded backlog that one background thread writes out in order. When the backlog is full,
/// lines are dropped and counted (`dropped`), never waited for: an event loop that logs must
/// keep serving. A regular file is written directly; when a write fails part way (a full disk),
/// the next line starts on a new line, so a torn line never swallows the next one.
///
/// ```swift
/// let sink = LogSink.memory()
/// Logger(sink: sink).info("started")
/// sink.captured   // ["{\"time\":...,\"event\":\"started\"}"]
/// ```
public final class LogSink: Sendable {
    /// What became of one `write`: on its way (`written` to the descriptor, or `queued` in the
    /// backlog behind earlier lines), or lost (`dropped` because the backlog is full, `failed`
    /// with the `errno` of a write that did not take the whole line).
    public enum Outcome: Sendable, Hashable {
        case written
        case queued
        case dropped
        case failed(errno: Int32)

        /// The line will reach the descriptor (unless the process dies first).
        public var isAccepted: Bool { self == .written || self == .queued }
    }

    /// A file descriptor, or memory for tests.
    private enum Target: Sendable {
        case fd(Int32)
        case memory
    }

    /// How lines reach the descriptor without blocking the caller.
    private enum Method: Sendable {
        /// Regular files, terminals, /dev/null: `write(2)` does not wait for a reader.
        case direct
        /// A socket (journald's stream): `send(MSG_DONTWAIT)`.
        case socket
        /// A pipe or FIFO, through a second, non-blocking open of it (`/proc/self/fd/N`), so the
        /// descriptor shared with the parent keeps its flags.
        case pipe(nonBlocking: Int32)
        /// Anything else (or the reopen failed): only the background thread writes.
        case background
    }

    /// The backlog and the background writer's state, under one lock.
    private struct Queue {
        var backlog: [UInt8] = []
        /// The background thread owns the descriptor's tail; direct writes wait their turn.
        var writerActive = false
        /// The last write stopped inside a line: the next one starts with a newline.
        var torn = false
    }

    private let target: Target
    private let method: Method
    private let lines = Mutex<[String]>([])
    private let queue = Mutex<Queue>(Queue())
    private let droppedLines = Atomic<Int>(0)
    /// Mirrors `Queue.torn` for the lock-free path of regular files.
    private let tornFlag = Atomic<Bool>(false)
    /// The most bytes waiting for a slow reader; more lines are dropped.
    public let maxBacklog: Int
    private static let writerQueue = DispatchQueue(label: "log-sink-writer")

    private init(target: Target, maxBacklog: Int = 1 << 20) {
        self.target = target
        self.maxBacklog = maxBacklog
        if case .fd(let fd) = target { method = Self.method(for: fd) } else { method = .direct }
    }

    /// Standard error: the default for every binary.
    public static let standardError = LogSink(target: .fd(2))

    /// A sink writing to an open descriptor (e.g. an audit file opened `O_APPEND`).
    public static func fileDescriptor(_ fd: Int32, maxBacklog: Int = 1 << 20) -> LogSink {
        LogSink(target: .fd(fd), maxBacklog: maxBacklog)
    }

    /// A sink that keeps lines in memory, for tests.
    public static func memory() -> LogSink { LogSink(target: .memory) }

    /// Lines captured by a memory sink.
    public var captured: [String] { lines.withLock { $0 } }

    /// Lines dropped because the backlog was full or the descriptor failed.
    public var dropped: Int { droppedLines.load(ordering: .relaxed) }

    /// Writes one complete line (a newline is appended).
    @discardableResult
    public func write(line: String) -> Outcome {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        return write(lines: bytes)
    }

    /// Writes a buffer of complete, newline-terminated lines in one go, under the same lock as
    /// single lines, so audit lines never interleave with log lines. Never blocks on the reader.
    @discardableResult
    public func write(lines bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBytes { write(lines: $0) }
    }

    /// `write(lines:)` from a buffer (the audit line formatted on the stack: no copy).
    @discardableResult
    public func write(lines bytes: UnsafeRawBufferPointer) -> Outcome {
        switch target {
        case .memory:
            let text = String(decoding: bytes, as: UTF8.self)
            let split = text.split(separator: "\n").map(String.init)
            lines.withLock { $0.append(contentsOf: split) }
            return .written
        case .fd(let fd):
            // A regular file (the audit file) never makes a writer wait for a reader and never
            // queues: one write(2) per line without the lock, since O_APPEND writes are atomic
            // and ordered by the kernel already. Only after a torn write does the locked path
            // run, to end the torn line first.
            if case .direct = method, !tornFlag.load(ordering: .acquiring) {
                switch writeWithoutBlocking(fd, bytes) {
                case .done:
                    return .written
                case .failed(let written, let err):
                    if written > 0 {
                        queue.withLock { $0.torn = true }
                        tornFlag.store(true, ordering: .releasing)
                    }
                    droppedLines.add(bytes.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }, ordering: .relaxed)
                    return .failed(errno: err)
                case .wouldBlock:
                    // Not for a regular file or terminal; should it happen, the locked path queues.
                    break
                }
            }
            var startWriter = false
            let outcome = queue.withLock { q -> Outcome in
                let newline: [UInt8] = q.torn ? [0x0A] : []
                if q.writerActive {
                    guard q.backlog.count + newline.count + bytes.count <= maxBacklog else { return .dropped }
                    q.torn = false
                    q.backlog.append(contentsOf: newline)
                    q.backlog.append(contentsOf: bytes)
                    return .queued
                }
                if case .background = method {
                    guard newline.count + bytes.count <= maxBacklog else { return .dropped }
                    q.torn = false
                    q.backlog = newline + Array(bytes)
                    q.writerActive = true
                    startWriter = true
                    return .queued
                }
                if q.torn {
                    // End the torn line first; if even that fails, this line is lost too.
                    let ended = newline.withUnsafeBytes { writeWithoutBlocking(fd, $0) }
                    guard case .done = ended else {
                        if case .failed(_, let err) = ended { return .failed(errno: err) }
                        return .dropped
                    }
                    q.torn = false
                    tornFlag.store(false, ordering: .releasing)
                }
                switch writeWithoutBlocking(fd, bytes) {
                case .done:
                    return .written
                case .wouldBlock(let written):
                    // The rest goes first in the backlog: the line stays whole in the stream.
                    q.backlog = Array(UnsafeRawBufferPointer(rebasing: bytes[written...]))
                    q.writerActive = true
                    startWriter = true
                    return .queued
                case .failed(let written, let err):
                    if written > 0 {
                        q.torn = true
                        tornFlag.store(true, ordering: .releasing)
                    }
                    return .failed(errno: err)
                }
            }
            if startWriter { Self.writerQueue.async { [self] in runWriter() } }
            if !outcome.isAccepted { droppedLines.add(bytes.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }, ordering: .relaxed) }
            return outcome
        }
    }

    /// Waits until the backlog is written (or `timeout` passes): before the process exits.
    public func drain(timeout: Duration = .seconds(2)) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if queue.withLock({ !$0.writerActive && $0.backlog.isEmpty }) { return }
            usleep(5000)
        }
    }

    // MARK: - Non-blocking writes

    /// How far one non-blocking write of a buffer got.
    private enum Attempt {
        case done
        case wouldBlock(written: Int)
        case failed(written: Int, errno: Int32)
    }

    private func writeWithoutBlocking(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Attempt {
        var offset = 0
        while offset < bytes.count {
            let base = bytes.baseAddress! + offset
            let count = bytes.count - offset
            let n: Int
            switch method {
            case .socket: n = send(fd, base, count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
            case .pipe(let nonBlocking): n = Glibc.write(nonBlocking, base, count)
            case .direct, .background: n = Glibc.write(fd, base, count)
            }
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock(written: offset) }
                return .failed(written: offset, errno: err)
            }
            if n == 0 { return .failed(written: offset, errno: EIO) }
            offset += n
        }
        return .done
    }

    /// The background writer: takes the backlog in chunks and writes each, waiting for the
    /// descriptor with `poll` (never spinning), until the backlog is empty.
    private func runWriter() {
        guard case .fd(let fd) = target else { return }
        let pollFD: Int32
        if case .pipe(let nonBlocking) = method { pollFD = nonBlocking } else { pollFD = fd }
        while true {
            // writerActive stays set while a chunk is out, so callers queue behind it.
            let chunk = queue.withLock { q -> [UInt8]? in
                if q.backlog.isEmpty {
                    q.writerActive = false
                    return nil
                }
                defer { q.backlog = [] }
                return q.backlog
            }
            guard let chunk else { return }
            var offset = 0
            while offset < chunk.count {
                let rest = Array(chunk[offset...])
                let attempt: Attempt
                if case .background = method {
                    // Unknown descriptor kind: a plain (possibly blocking) write, on this thread only.
                    let n = rest.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    attempt = n < 0 ? (errno == EINTR ? .wouldBlock(written: 0) : .failed(written: 0, errno: errno)) : .wouldBlock(written: n)
                } else {
                    attempt = rest.withUnsafeBytes { writeWithoutBlocking(fd, $0) }
                }
                switch attempt {
                case .done:
                    offset = chunk.count
                case .wouldBlock(let written):
                    offset += written
                    if offset < chunk.count && written == 0 {
                        var p = pollfd(fd: pollFD, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&p, 1, 1000)
                    }
                case .failed:
                    // The reader went away (EPIPE) or the descriptor broke: what is left is lost.
                    let lost = chunk[offset...].reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
                    droppedLines.add(lost, ordering: .relaxed)
                    offset = chunk.count
                }
            }
        }
    }

    private static func method(for fd: Int32) -> Method {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .background }
        switch st.st_mode & S_IFMT {
        case S_IFSOCK:
            return .socket
        case S_IFIFO:
            let reopened = open("/proc/self/fd/\(fd)", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            return reopened >= 0 ? .pipe(nonBlocking: reopened) : .background
        default:
            return .direct
        }
    }
}
