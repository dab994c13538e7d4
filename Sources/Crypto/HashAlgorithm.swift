import CCrypto

/// The HMAC hash of a TOTP seed (RFC 6238 allows SHA1, SHA256, SHA512).
///
/// ```swift
/// let alg = HashAlgorithm(name: "sha256")   // .sha256
/// alg?.name                                 // "SHA256"
/// ```
public enum HashAlgorithm: String, Sendable, CaseIterable, Codable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    /// Parses `SHA1`, `SHA256`, `SHA512` case-insensitively (also `SHA-256` style).
    public init?(name: String) {
        switch String(name.uppercased().filter { $0 != "-" }) {
        case "SHA1": self = .sha1
        case "SHA256": self = .sha256
        case "SHA512": self = .sha512
        default: return nil
        }
    }

    /// The canonical upper-case name used in otpauth URIs and JSON.
    public var name: String { rawValue }

    var evp: OpaquePointer? {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
    }
}
