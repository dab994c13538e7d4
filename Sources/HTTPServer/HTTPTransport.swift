#if canImport(Glibc)
import Glibc
#endif
import Platform

/// The byte stream under one HTTP connection, and the only place the server reads, writes or
/// shuts a connection's socket: today the non-blocking TCP socket itself. `EINTR` is retried and
/// `EAGAIN` is `.wouldBlock`, so callers see four outcomes and no `errno`. A TLS transport would
/// offer the same operations, its would-block saying which direction the handshake or record
/// layer waits for.
///
/// ```swift
/// let transport = HTTPTransport(fd: fd)
/// switch transport.receive(into: buffer) {
/// case .transferred(let n): _ = n   // bytes now in `buffer`
/// case .wouldBlock: break           // wait for readability
/// case .closed, .failed: transport.close()
/// }
/// ```
struct HTTPTransport {
    /// What one read or write did.
    enum Result: Equatable {
        /// This many bytes (more than zero) were read or written.
        case transferred(Int)
        /// Nothing now; the socket is not ready.
        case wouldBlock
        /// The peer closed its side (a read found EOF).
        case closed
        /// The call failed with this `errno` (reset by the peer, say).
        case failed(Int32)
    }

    let fd: Int32

    /// Reads what is there, up to `buffer.count` bytes.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Result {
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .transferred(n) }
            if n == 0 { return .closed }
            let err = errno
            if err == EINTR { continue }
            return err == EAGAIN || err == EWOULDBLOCK ? .wouldBlock : .failed(err)
        }
    }

    /// Writes as much of `bytes` as the socket takes now.
    func send(_ bytes: UnsafeRawBufferPointer) -> Result {
        while true {
            // MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE in the host process.
            let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return n == 0 && !bytes.isEmpty ? .wouldBlock : .transferred(n) }
            let err = errno
            if err == EINTR { continue }
            return err == EAGAIN || err == EWOULDBLOCK ? .wouldBlock : .failed(err)
        }
    }

    /// Shuts the sending side: the peer reads EOF after what was written.
    func shutdownOutput() {
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    /// Closes the socket, which also removes it from every epoll set (it is never duplicated).
    func close() {
        Syscall.close(fd)
    }
}
