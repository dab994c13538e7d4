import CCrypto

/// The one place libcrypto is called: HMAC, SHA-256, AES-256-GCM, random bytes and
/// constant-time comparison. Everything above works on `[UInt8]`.
///
/// ```swift
/// let mac = Crypto.hmac(.sha1, key: Array("12345678901234567890".utf8), message: [0,0,0,0,0,0,0,1])
/// ```
public enum Crypto {
    /// One-shot HMAC (not deprecated in OpenSSL 3, unlike `HMAC_CTX_*`).
    public static func hmac(_ algorithm: HashAlgorithm, key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        // An empty key still needs a valid pointer.
        let keyBytes = key.isEmpty ? [0] : key
        let result = keyBytes.withUnsafeBytes { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(algorithm.evp, k.baseAddress, Int32(key.count), m.baseAddress, m.count, o.baseAddress, &length)
                }
            }
        }
        precondition(result != nil, "HMAC failed in libcrypto")
        return Array(out.prefix(Int(length)))
    }

    /// SHA-256 fetched once: OpenSSL 3 otherwise looks the algorithm up on every digest
    /// (`SHA256()` and `EVP_sha256()` both do), taking a lock and comparing names per request.
    // nonisolated(unsafe): an immutable pointer to a reference-counted, thread-safe EVP_MD,
    // initialised once and never freed.
    nonisolated(unsafe) private static let fetchedSHA256: OpaquePointer = {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { preconditionFailure("libcrypto has no SHA256") }
        return md
    }()

    /// SHA-256 digest.
    public static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        data.withUnsafeBytes { d in out.withUnsafeMutableBytes { sha256(d, into: $0) } }
        return out
    }

    /// SHA-256 of `data` into the first 32 bytes of `out`, without allocating (request paths).
    public static func sha256(_ data: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= 32, "SHA-256 needs 32 bytes of output")
        var length: UInt32 = 0
        // EVP_Digest wants a non-null input pointer even for zero bytes.
        var empty: UInt8 = 0
        let ok = withUnsafeMutablePointer(to: &empty) { fallback in
            EVP_Digest(data.baseAddress ?? UnsafeRawPointer(fallback), data.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, fetchedSHA256, nil)
        }
        precondition(ok == 1 && length == 32, "SHA-256 failed in libcrypto")
    }

    /// Cryptographically secure random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed: the system has no entropy source")
        return out
    }

    /// Constant-time equality; lengths are compared first (their difference is not secret).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        b.withUnsafeBytes { constantTimeEqual(a, $0) }
    }

    /// Constant-time equality with raw bytes; lengths are compared first.
    public static func constantTimeEqual(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in CRYPTO_memcmp(x.baseAddress, b.baseAddress, a.count) == 0 }
    }

    /// Lower-case hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses hex (either case); nil on odd length or a non-hex character.
    public static func unhex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x61...0x66: c - 0x61 + 10
            case 0x41...0x46: c - 0x41 + 10
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
