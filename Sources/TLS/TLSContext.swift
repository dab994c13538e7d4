#if canImport(Glibc)
import Glibc
#endif
import CTLS

/// One server `SSL_CTX`, built and checked from `TLSFiles`: TLS 1.2 and 1.3 only, AEAD suites,
/// no renegotiation or compression, a server session cache and tickets so reconnecting clients
/// resume, and (with a client CA) a client certificate required. It is never changed after
/// `init`; a reload builds a new one (`TLSContextStore`). Sessions made from it keep it alive.
///
/// ```swift
/// let context = try TLSContext(files, now: Int64(time(nil)))
/// context.notAfter        // the leaf's expiry, Unix seconds
/// let session = context.makeSession(fd: fd)   // per accepted connection
/// ```
public final class TLSContext: @unchecked Sendable {
    // @unchecked: the SSL_CTX is configured in `init` and only read afterwards; OpenSSL makes
    // SSL_new and the session cache safe from several threads on one context.

    /// TLS 1.2 suites: ECDHE key exchange with an AEAD only. TLS 1.3's defaults are all AEAD.
    static let tls12Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    let pointer: OpaquePointer
    public let files: TLSFiles
    /// The leaf certificate's not-after time, Unix seconds.
    public let notAfter: Int64
    /// The leaf certificate's subject common name ("" when it has none).
    public let commonName: String
    public var requiresClientCertificate: Bool { files.clientCA != nil }

    /// Loads and checks the files: the chain parses, the key parses and matches the leaf, the
    /// leaf has not expired at `now` (Unix seconds), the client CA bundle parses.
    public init(_ files: TLSFiles, now: Int64) throws(TLSError) {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.withOpenSSLReason(.setup, source: files.certificateSource, "OpenSSL could not create a TLS context")
        }
        // Freed here on any refusal: `deinit` does not run for an object never fully made.
        do {
            (notAfter, commonName) = try TLSContext.configure(ctx, files, now: now)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        pointer = ctx
        self.files = files
    }

    private static func configure(_ ctx: OpaquePointer, _ files: TLSFiles, now: Int64) throws(TLSError) -> (Int64, String) {
        guard ctls_ctx_set_min_tls12(ctx) == 1, SSL_CTX_set_cipher_list(ctx, tls12Ciphers) == 1 else {
            throw TLSError.withOpenSSLReason(.setup, source: files.certificateSource, "OpenSSL refused the TLS protocol settings")
        }
        ctls_ctx_set_server_options(ctx)
        let id = Array("totp-gateway".utf8)
        ctls_ctx_enable_session_cache(ctx, id, UInt32(id.count))

        try readable(files.certificate, .certificate, files.certificateSource)
        guard SSL_CTX_use_certificate_chain_file(ctx, files.certificate) == 1 else {
            throw TLSError.withOpenSSLReason(.certificate, source: files.certificateSource,
                "\(files.certificate) holds no usable PEM certificate chain (leaf first, then the intermediates)")
        }
        try readable(files.key, .key, files.keySource)
        guard SSL_CTX_use_PrivateKey_file(ctx, files.key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            // Loading the key already compares it with the certificate.
            guard ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH else {
                throw TLSError.withOpenSSLReason(.key, source: files.keySource, "\(files.key) holds no usable unencrypted PEM private key")
            }
            throw TLSError.withOpenSSLReason(.keyMismatch, source: files.keySource,
                "the key in \(files.key) does not match the certificate in \(files.certificate); install the pair together")
        }
        let notAfter = Int64(ctls_ctx_not_after(ctx))
        guard notAfter > now else {
            throw TLSError(.expired, source: files.certificateSource,
                "the certificate in \(files.certificate) expired (not after \(notAfter), Unix seconds); renew it")
        }
        var name = [CChar](repeating: 0, count: 256)
        let commonName = ctls_ctx_common_name(ctx, &name, Int32(name.count)) > 0 ? String(cString: name) : ""
        if let ca = files.clientCA {
            try readable(ca, .clientCA, files.clientCASource)
            guard SSL_CTX_load_verify_locations(ctx, ca, nil) == 1, ctls_ctx_set_client_ca_list(ctx, ca) == 1 else {
                throw TLSError.withOpenSSLReason(.clientCA, source: files.clientCASource, "\(ca) holds no usable PEM CA certificate")
            }
            ctls_ctx_require_client_certificate(ctx)
        }
        return (notAfter, commonName)
    }

    /// OpenSSL's "no such file" is "system lib"; errno says more.
    private static func readable(_ path: String, _ code: TLSError.Code, _ source: String) throws(TLSError) {
        guard access(path, R_OK) != 0 else { return }
        throw TLSError(code, source: source, "cannot read \(path): \(String(cString: strerror(errno)))")
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    /// A server session on the connected, non-blocking socket `fd`; nil if OpenSSL is out of memory.
    public func makeSession(fd: Int32) -> TLSSession? {
        TLSSession(ctx: pointer, owner: self, fd: fd)
    }
}
