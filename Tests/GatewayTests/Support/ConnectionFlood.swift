import Foundation
import XCTest

/// A client that opens many TCP connections from one or more loopback source addresses and
/// holds them without sending a byte: the idle-connection flood. Connects are non-blocking,
/// so a full accept queue cannot stall the test; every socket is closed by `close()`.
///
/// ```swift
/// let flood = try ConnectionFlood(port: gw.port, sources: ["127.0.0.2"], perSource: 4200)
/// defer { flood.close() }
/// ```
final class ConnectionFlood {
    private(set) var descriptors: [Int32] = []

    init(port: Int, sources: [String], perSource: Int) throws {
        try Self.raiseFileLimit(atLeast: sources.count * perSource + 1024)
        for source in sources {
            for _ in 0..<perSource {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                guard fd >= 0 else { throw NSError(domain: "ConnectionFlood", code: Int(errno)) }
                descriptors.append(fd)
                var local = sockaddr_in()
                local.sin_family = sa_family_t(AF_INET)
                local.sin_addr.s_addr = inet_addr(source)
                _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = in_port_t(UInt16(port).bigEndian)
                addr.sin_addr.s_addr = inet_addr("127.0.0.1")
                _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            }
        }
    }

    /// Waits (at most `timeout`) until every connect finished, established or refused: a
    /// connect still waiting in a full accept queue would otherwise join the flood only later.
    /// Returns how many are established and not closed by the peer so far.
    @discardableResult
    func settle(timeout: TimeInterval = 10) -> Int {
        var pending = descriptors
        let deadline = Date().addingTimeInterval(timeout)
        while !pending.isEmpty && Date() < deadline {
            var fds = pending.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 100)
            pending = fds.filter { $0.revents == 0 }.map(\.fd)
        }
        var open = 0
        for fd in descriptors {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 && p.revents & Int16(POLLIN | POLLHUP | POLLERR) == 0 { open += 1 }
        }
        return open
    }

    deinit { close() }

    func close() {
        for fd in descriptors { Glibc.close(fd) }
        descriptors = []
    }

    /// Raises this process's soft RLIMIT_NOFILE (children inherit it) up to the hard limit.
    static func raiseFileLimit(atLeast needed: Int) throws {
        // On top of what is open already (an earlier flood, the test runner's own files).
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        let wanted = needed + open
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        if Int(limit.rlim_cur) >= wanted { return }
        guard Int(limit.rlim_max) >= wanted else {
            throw XCTSkip("RLIMIT_NOFILE hard limit \(limit.rlim_max) < \(wanted) descriptors the flood needs")
        }
        limit.rlim_cur = rlim_t(wanted)
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}
