#if canImport(Glibc)
import Glibc
#endif

/// Why a notification to systemd could not be sent.
///
/// ```swift
/// do { try notifier.ready() } catch { log.warning("sd_notify_failed", ["error": "\(error)"]) }
/// ```
public struct SystemdNotifierError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure, compared by equality.
    private enum Code: Equatable, Sendable {
        case invalidSocket
        case sendFailed
    }

    private let code: Code
    /// What went wrong and what to do about it.
    public let message: String

    static func invalidSocket(_ value: String) -> SystemdNotifierError {
        SystemdNotifierError(
            code: .invalidSocket,
            message: "NOTIFY_SOCKET=\(value) is not usable: it must be an absolute path or start with @ "
                + "(abstract namespace) and fit in 107 bytes; check the unit's NotifyAccess/Type settings")
    }

    static func sendFailed(_ error: SystemError, target: String) -> SystemdNotifierError {
        SystemdNotifierError(
            code: .sendFailed,
            message: "sending to NOTIFY_SOCKET \(target) failed: \(error); is systemd (or the supervisor) still listening?")
    }

    public var description: String { message }

    public static func == (lhs: SystemdNotifierError, rhs: SystemdNotifierError) -> Bool { lhs.code == rhs.code }
}

/// `sd_notify` without libsystemd: sends `READY=1`, `WATCHDOG=1`, `STOPPING=1` and
/// `STATUS=...` datagrams to the AF_UNIX socket named by `NOTIFY_SOCKET` (a path, or an
/// abstract name when it starts with `@`). Does nothing when `NOTIFY_SOCKET` is unset, so the
/// same binary runs under systemd, in a container or in a terminal.
///
/// ```swift
/// let systemd = SystemdNotifier()            // reads the process environment
/// try systemd.ready()
/// if let every = systemd.watchdogPingInterval { /* timer: try systemd.watchdog() every `every` */ }
/// try systemd.stopping()
/// ```
public struct SystemdNotifier: Sendable {
    /// Where notifications go.
    public enum Target: Sendable, Equatable, CustomStringConvertible {
        /// A filesystem socket path.
        case path(String)
        /// An abstract-namespace name (without the leading `@`).
        case abstract(String)

        public var description: String {
            switch self {
            case .path(let path): path
            case .abstract(let name): "@" + name
            }
        }
    }

    /// The notification socket; nil when `NOTIFY_SOCKET` is unset or empty.
    public let target: Target?
    /// The watchdog timeout systemd enforces (`WATCHDOG_USEC`), when it applies to this
    /// process (`WATCHDOG_PID` unset or equal to our pid).
    public let watchdogInterval: Duration?
    // Kept to report a malformed NOTIFY_SOCKET when sending instead of silently doing nothing.
    private let invalidSocket: String?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`
    /// (the process environment by default; tests pass a dictionary).
    public init(environment: [String: String] = SystemdNotifier.processEnvironment(), pid: Int32 = getpid()) {
        let socket = environment["NOTIFY_SOCKET"] ?? ""
        if socket.isEmpty {
            target = nil
            invalidSocket = nil
        } else if socket.hasPrefix("@"), socket.utf8.count >= 2, socket.utf8.count <= 108 {
            // Abstract address: a leading NUL, then the name; at most 107 name bytes.
            target = .abstract(String(socket.dropFirst()))
            invalidSocket = nil
        } else if socket.hasPrefix("/"), socket.utf8.count < 108, !socket.utf8.contains(0) {
            target = .path(socket)
            invalidSocket = nil
        } else {
            target = nil
            invalidSocket = socket
        }

        var interval: Duration? = nil
        if let usec = environment["WATCHDOG_USEC"].flatMap({ UInt64($0) }), usec > 0, usec <= UInt64(Int64.max) {
            let pidMatches = environment["WATCHDOG_PID"].map { Int32($0) == pid } ?? true
            if pidMatches { interval = .microseconds(Int64(usec)) }
        }
        watchdogInterval = interval
    }

    /// Whether notifications go anywhere.
    public var isEnabled: Bool { target != nil }

    /// How often to send `WATCHDOG=1`: half the watchdog timeout, as systemd recommends.
    public var watchdogPingInterval: Duration? { watchdogInterval.map { $0 / 2 } }

    /// `READY=1`: start-up finished (for `Type=notify` units).
    @discardableResult
    public func ready() throws(SystemdNotifierError) -> Bool { try notify("READY=1") }

    /// `WATCHDOG=1`: still alive.
    @discardableResult
    public func watchdog() throws(SystemdNotifierError) -> Bool { try notify("WATCHDOG=1") }

    /// `STOPPING=1`: shutdown has begun.
    @discardableResult
    public func stopping() throws(SystemdNotifierError) -> Bool { try notify("STOPPING=1") }

    /// `STATUS=...`: a one-line status shown by `systemctl status`. Newlines become spaces,
    /// since a newline would start another assignment.
    @discardableResult
    public func status(_ text: String) throws(SystemdNotifierError) -> Bool {
        let line = String(text.map { $0 == "\n" || $0 == "\r\n" || $0 == "\r" ? " " : $0 })
        return try notify("STATUS=" + line)
    }

    /// Sends one raw datagram (newline-separated `KEY=VALUE` assignments). Returns false
    /// without sending when `NOTIFY_SOCKET` is unset.
    @discardableResult
    public func notify(_ message: String) throws(SystemdNotifierError) -> Bool {
        if let invalidSocket { throw .invalidSocket(invalidSocket) }
        guard let target else { return false }
        do {
            try Self.send(Array(message.utf8), to: target)
        } catch {
            throw .sendFailed(error, target: target.description)
        }
        return true
    }

    /// The process environment, from `environ`.
    public static func processEnvironment() -> [String: String] {
        var result: [String: String] = [:]
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        guard var entry = start else { return result }
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    /// A new socket per message, as libsystemd does: nothing to keep open or reconnect, and
    /// notifications are rare (at most a few per second).
    private static func send(_ payload: [UInt8], to target: Target) throws(SystemError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes: [UInt8]
        let length: Int
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
        switch target {
        case .path(let path):
            pathBytes = Array(path.utf8) + [0]
            length = pathOffset + pathBytes.count
        case .abstract(let name):
            // The address length, not a terminator, ends an abstract name: no trailing NUL.
            pathBytes = [0] + Array(name.utf8)
            length = pathOffset + pathBytes.count
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes.prefix(raw.count))
        }

        let fd = try Syscall.call("socket") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { Syscall.close(fd) }
        // A stalled supervisor must not freeze the caller (the watchdog pinger) for ever.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        try Syscall.call("setsockopt(SO_SNDTIMEO)") {
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        try Syscall.call("sendto") {
            payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                        Glibc.sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), sockaddrPointer, socklen_t(length))
                    }
                }
            }
        }
    }
}
