#if canImport(Glibc)
import Glibc
#endif
import CTLS

/// The server side of one TLS connection over a connected non-blocking socket (it does not own
/// the descriptor). Every call returns at once: a handshake step, a read or a write that cannot
/// go on says which readiness it waits for (`SSL_ERROR_WANT_READ`/`WANT_WRITE`), and the event
/// loop that owns the connection calls again when the socket is ready.
///
/// ```swift
/// let session = context.makeSession(fd: fd)!
/// switch session.handshake() {
/// case .done: break                          // session.peerCommonName: the client certificate
/// case .wantRead, .wantWrite: break          // watch the socket, call again
/// case .failed: break                        // close the socket; session.failureReason says why
/// }
/// ```
public final class TLSSession {
    /// Where one handshake step left the connection.
    public enum Handshake: Equatable {
        case done, wantRead, wantWrite, failed
    }

    /// What one read or write did.
    public enum Transfer: Equatable {
        case transferred(Int)
        case wantRead, wantWrite
        /// The peer sent close_notify or closed the socket.
        case closed
        /// A protocol or socket error (`errno`, or `EPROTO` for a TLS error).
        case failed(Int32)
    }

    private let ssl: OpaquePointer
    /// Keeps the SSL_CTX alive as long as the session (a reload may drop the store's reference):
    /// a server's `TLSContext` or a probe's `TLSProbeClient`.
    private let owner: AnyObject
    /// OpenSSL's reason for the last failure (e.g. "wrong version number", "http request"): for
    /// debug logs; it never holds key material.
    public private(set) var failureReason = ""
    /// A fatal error happened: OpenSSL forbids a close_notify afterwards.
    private var broken = false

    /// A session on `ctx` (owned by `owner`): the server side, or with `client` the client side.
    init?(ctx: OpaquePointer, owner: AnyObject, fd: Int32, client: Bool = false) {
        guard let ssl = SSL_new(ctx) else { return nil }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            return nil
        }
        if client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
        self.ssl = ssl
        self.owner = owner
    }

    deinit {
        SSL_free(ssl)
    }

    /// Runs the handshake as far as the socket allows.
    public func handshake() -> Handshake {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            noteFailure()
            return .failed
        }
    }

    /// Decrypts up to `buffer.count` bytes of application data.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Transfer {
        ERR_clear_error()
        var n = 0
        if SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &n) == 1 { return .transferred(n) }
        return failedTransfer(SSL_get_error(ssl, 0))
    }

    /// Encrypts and sends as much of `bytes` as the socket takes now, record by record.
    public func write(_ bytes: UnsafeRawBufferPointer) -> Transfer {
        var total = 0
        while total < bytes.count {
            ERR_clear_error()
            var n = 0
            if SSL_write_ex(ssl, bytes.baseAddress! + total, bytes.count - total, &n) == 1 {
                total += n
                continue
            }
            let outcome = failedTransfer(SSL_get_error(ssl, 0))
            // Part written: report it; the caller retries the rest (same bytes) when writable.
            if total > 0, outcome == .wantRead || outcome == .wantWrite { return .transferred(total) }
            return outcome
        }
        return .transferred(total)
    }

    /// True when OpenSSL holds bytes (decrypted, or records read ahead) that the socket will
    /// not signal again.
    public var hasBufferedInput: Bool { SSL_has_pending(ssl) == 1 }

    /// Sends close_notify once the handshake is done (best effort: a socket that would block
    /// just closes without it).
    public func closeNotify() {
        guard !broken, SSL_is_init_finished(ssl) == 1 else { return }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// The subject common name of the client's verified certificate; nil without one.
    public var peerCommonName: String? {
        var name = [CChar](repeating: 0, count: 256)
        guard ctls_peer_common_name(ssl, &name, Int32(name.count)) >= 0 else { return nil }
        return String(cString: name)
    }

    /// Whether the peer's leaf certificate is exactly `certificate` (DER equal).
    func peerCertificateEquals(_ certificate: OpaquePointer) -> Bool {
        ctls_peer_certificate_equals(ssl, certificate) == 1
    }

    /// The negotiated protocol, e.g. "TLSv1.3".
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// Whether this connection resumed an earlier session (ticket or cache).
    public var resumed: Bool { SSL_session_reused(ssl) == 1 }

    private func failedTransfer(_ code: Int32) -> Transfer {
        switch code {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            let err = errno
            ERR_clear_error()
            broken = true
            return err == 0 ? .closed : .failed(err)
        default:
            noteFailure()
            return .failed(EPROTO)
        }
    }

    private func noteFailure() {
        broken = true
        var last: UInt = 0
        while case let e = ERR_get_error(), e != 0 { last = e }
        if last != 0, let text = ERR_reason_error_string(last) {
            failureReason = String(cString: text)
        } else {
            failureReason = errno == 0 ? "connection closed during the handshake" : String(cString: strerror(errno))
        }
    }
}

@available(*, unavailable)
extension TLSSession: Sendable {}
