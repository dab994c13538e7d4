import Foundation
import TestSupport

/// A loopback TCP listener that accepts connections (through the backlog) and never answers:
/// a gateway that hangs.
final class Blackhole {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = try LoopbackSocket.bind(listening: 16)
    }

    deinit { close(fd) }
}
