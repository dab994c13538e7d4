import Foundation

/// A loopback port the kernel picked, held by this process for as long as the object lives: a
/// socket is bound to it and never listens, so connecting to it is refused (a reset, as from a
/// server that is down). By default no other socket can bind the port meanwhile. With
/// `forServer`, the holding socket sets `SO_REUSEADDR`, which lets a server that sets it too
/// (etcd, the gateway) bind and listen on exactly this port while everyone else still cannot:
/// the way to hand a fixed port to a program that cannot report or inherit one.
///
/// ```swift
/// let dead = try ReservedPort()
/// defer { dead.close() }
/// let url = "http://127.0.0.1:\(dead.port)"    // a gateway that is down
/// let etcdPort = try ReservedPort(forServer: true)   // etcd --listen-client-urls on it
/// ```
public final class ReservedPort {
    public let port: Int
    private var fd: Int32

    public init(forServer: Bool = false) throws {
        (fd, port) = try LoopbackSocket.bind(listening: nil, reuseAddress: forServer)
    }

    deinit { close() }

    /// Gives the port up.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }
}
