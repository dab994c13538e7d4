#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Where log lines go: a file descriptor (stderr by default) or, in tests, memory.
/// Each line is written whole under a lock so concurrent threads never interleave.
///
/// ```swift
/// let sink = LogSink.memory()
/// Logger(sink: sink).info("started")
/// sink.captured   // ["{\"time\":...,\"event\":\"started\"}"]
/// ```
public final class LogSink: Sendable {
    /// A file descriptor, or memory for tests.
    private enum Target: Sendable {
        case fd(Int32)
        case memory
    }

    private let target: Target
    private let lines = Mutex<[String]>([])

    private init(target: Target) { self.target = target }

    /// Standard error: the default for every binary.
    public static let standardError = LogSink(target: .fd(2))

    /// A sink writing to an open descriptor (e.g. an audit file opened `O_APPEND`).
    public static func fileDescriptor(_ fd: Int32) -> LogSink { LogSink(target: .fd(fd)) }

    /// A sink that keeps lines in memory, for tests.
    public static func memory() -> LogSink { LogSink(target: .memory) }

    /// Lines captured by a memory sink.
    public var captured: [String] { lines.withLock { $0 } }

    /// Writes one complete line (a newline is appended).
    public func write(line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        write(lines: bytes)
    }

    /// Writes a buffer of complete, newline-terminated lines in one go, under the same lock as
    /// single lines, so batched audit lines never interleave with log lines.
    public func write(lines bytes: [UInt8]) {
        switch target {
        case .memory:
            let text = String(decoding: bytes, as: UTF8.self)
            let split = text.split(separator: "\n").map(String.init)
            lines.withLock { $0.append(contentsOf: split) }
        case .fd(let fd):
            lines.withLock { _ in
                // The lock makes each line one uninterrupted sequence of writes.
                var offset = 0
                while offset < bytes.count {
                    let n = bytes.withUnsafeBytes { buf in
                        Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                    }
                    if n < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        return
                    }
                    offset += n
                }
            }
        }
    }
}
