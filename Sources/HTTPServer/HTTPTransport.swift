#if canImport(Glibc)
import Glibc
#endif
import Platform
import TLS

/// The byte stream under one HTTP connection, and the only place the server reads, writes or
/// shuts a connection's socket: the non-blocking TCP socket itself, or a TLS session over it.
/// `EINTR` is retried and `EAGAIN` (or TLS's want-read/want-write once the handshake is done)
/// is `.wouldBlock`, so callers see four outcomes and no `errno`. The handshake comes first
/// (`handshake()`), its want-read/want-write driving what the loop watches.
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
    /// The TLS session over `fd`; nil for plain HTTP.
    let tls: TLSSession?

    init(fd: Int32, tls: TLSSession? = nil) {
        self.fd = fd
        self.tls = tls
    }

    /// One step of the TLS handshake (`.done` at once without TLS).
    func handshake() -> TLSSession.Handshake {
        tls?.handshake() ?? .done
    }

    /// Bytes held by the TLS session that epoll will not report.
    var hasBufferedInput: Bool { tls?.hasBufferedInput ?? false }

    /// Reads what is there, up to `buffer.count` bytes.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> Result {
        if let tls { return Self.result(tls.read(into: buffer)) }
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
        if let tls { return Self.result(tls.write(bytes)) }
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
        tls?.closeNotify()
        _ = shutdown(fd, Int32(SHUT_WR))
    }

    // A data-phase want-write on a read (or want-read on a write) is a TLS 1.3 key update or
    // ticket in flight; level-triggered epoll calls again on the next readiness either way.
    private static func result(_ transfer: TLSSession.Transfer) -> Result {
        switch transfer {
        case .transferred(let n): .transferred(n)
        case .wantRead, .wantWrite: .wouldBlock
        case .closed: .closed
        case .failed(let err): .failed(err)
        }
    }

    /// Closes the socket, which also removes it from every epoll set (it is never duplicated).
    func close() {
        tls?.closeNotify()
        Syscall.close(fd)
    }
}
