import Crypto

/// The SHA-256 digest of a token secret as a hashable value of four words, so the configured
/// tokens can be a dictionary keyed by it (`TokenSet`) and duplicate secrets a set.
///
/// ```swift
/// let key = SecretDigest(Crypto.sha256(Array("s3cret".utf8)))!
/// byDigest[key]?.name
/// ```
struct SecretDigest: Hashable, Sendable {
    static let byteCount = 32
    private let w0: UInt64
    private let w1: UInt64
    private let w2: UInt64
    private let w3: UInt64

    /// nil unless `bytes` holds exactly 32 bytes.
    init?(_ bytes: [UInt8]) {
        guard let digest = bytes.withUnsafeBytes({ SecretDigest($0) }) else { return nil }
        self = digest
    }

    /// nil unless `bytes` holds exactly 32 bytes.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count == Self.byteCount else { return nil }
        w0 = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        w1 = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        w2 = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        w3 = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }
}
