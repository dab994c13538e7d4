#if canImport(Glibc)
import Glibc
#endif
import CTLS

/// The client side of a gateway's health probe (`--healthcheck https://...`) against its own
/// listener. It knows no CA: it pins the leaf certificate in `files.certificate` (the probe runs
/// beside the gateway it checks, so the certificate it must find is the one on disk), and it
/// presents that same certificate and key as its client certificate, so a listener that
/// requires mutual TLS accepts it when the client CA issued the gateway's certificate for client
/// authentication too (extendedKeyUsage `serverAuth,clientAuth`).
///
/// ```swift
/// let probe = try TLSProbeClient(files)
/// let session = probe.makeSession(fd: fd)!   // then handshake(), probe.verify(session)
/// ```
public final class TLSProbeClient: @unchecked Sendable {
    private let ctx: OpaquePointer
    /// The pinned leaf (owned).
    private let leaf: OpaquePointer

    public init(_ files: TLSFiles) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.withOpenSSLReason(.setup, source: files.certificateSource, "OpenSSL could not create a TLS context")
        }
        guard ctls_ctx_set_min_tls12(ctx) == 1,
              SSL_CTX_use_certificate_chain_file(ctx, files.certificate) == 1,
              let leaf = SSL_CTX_get0_certificate(ctx), X509_up_ref(leaf) == 1
        else {
            SSL_CTX_free(ctx)
            throw TLSError.withOpenSSLReason(.certificate, source: files.certificateSource,
                "\(files.certificate) holds no usable PEM certificate chain")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, files.key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            X509_free(leaf)
            SSL_CTX_free(ctx)
            throw TLSError.withOpenSSLReason(.key, source: files.keySource,
                "\(files.key) holds no usable private key matching \(files.certificate)")
        }
        // The pin below is the whole check: a chain would have to name a CA the probe does not know.
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        self.ctx = ctx
        self.leaf = leaf
    }

    deinit {
        X509_free(leaf)
        SSL_CTX_free(ctx)
    }

    /// A client session on the connected, non-blocking socket `fd`; nil if OpenSSL is out of memory.
    public func makeSession(fd: Int32) -> TLSSession? {
        TLSSession(ctx: ctx, owner: self, fd: fd, client: true)
    }

    /// True once `session`'s handshake is done and the server showed the pinned certificate.
    public func verify(_ session: TLSSession) -> Bool {
        session.peerCertificateEquals(leaf)
    }
}
