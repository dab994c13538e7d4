/// Where a TLS server's certificate chain, private key and (for mutual TLS) client CA bundle
/// live, with the name of the setting or credential each came from, so every error names it.
///
/// ```swift
/// let files = TLSFiles(certificate: "/etc/totp/tls.pem", key: "/etc/totp/tls.key",
///     certificateSource: "GATEWAY_TLS_CERT_FILE", keySource: "GATEWAY_TLS_KEY_FILE")
/// ```
public struct TLSFiles: Sendable, Equatable {
    /// PEM: the leaf certificate first, then the chain.
    public var certificate: String
    /// PEM private key matching the leaf (unencrypted; its mode is checked by the caller).
    public var key: String
    /// PEM bundle of the CAs client certificates must chain to; nil: no client certificates.
    public var clientCA: String?
    public var certificateSource: String
    public var keySource: String
    public var clientCASource: String

    public init(
        certificate: String, key: String, clientCA: String? = nil, certificateSource: String, keySource: String,
        clientCASource: String = "client CA file"
    ) {
        self.certificate = certificate
        self.key = key
        self.clientCA = clientCA
        self.certificateSource = certificateSource
        self.keySource = keySource
        self.clientCASource = clientCASource
    }
}
