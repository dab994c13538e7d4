#if canImport(Glibc)
import Glibc
#endif

/// A cautious estimate of how hard a token secret is to guess, from its length and the
/// characters it draws on: each character counts log2 of its alphabet (16 for a hex string,
/// 32 for base32, else the sum of the classes used: 26 lower, 26 upper, 10 digits, 33 others,
/// 128 for non-ASCII), except the fourth and later characters of a run (`aaaa`, `1234`,
/// `dcba`), which add nothing. It cannot see that a secret is a dictionary word or reused,
/// so it only refuses what is certainly weak; `openssl rand -hex 32` gives 256 bits.
///
/// ```swift
/// SecretStrength.estimatedBits("7351")   // 13.3
/// SecretStrength.estimatedBits(hex64)    // 256 (a random 32-byte hex string, runs aside)
/// ```
enum SecretStrength {
    /// Secrets below this are refused (NIST SP 800-63B's floor for a generated secret is
    /// 112 bits; a bearer token that lives for months deserves 128).
    static let minimumBits = 128.0

    /// Why `secret` is refused, or nil. Names `what` (never the secret) and says how to make a good one.
    static func problem(_ secret: String, what: String) -> String? {
        let bits = estimatedBits(secret)
        guard bits < minimumBits else { return nil }
        return "\(what) is too weak to use (about \(Int(bits)) bits estimated from its length and characters; at least \(Int(minimumBits)) are needed); generate one with: openssl rand -hex 32"
    }

    static func estimatedBits(_ secret: String) -> Double {
        let bytes = Array(secret.utf8)
        guard !bytes.isEmpty else { return 0 }
        func all(_ test: (UInt8) -> Bool) -> Bool { bytes.allSatisfy(test) }
        let digit = { (c: UInt8) in c >= 0x30 && c <= 0x39 }
        let lower = { (c: UInt8) in c >= 0x61 && c <= 0x7A }
        let upper = { (c: UInt8) in c >= 0x41 && c <= 0x5A }
        let pool: Double
        if all({ digit($0) || ($0 >= 0x61 && $0 <= 0x66) }) || all({ digit($0) || ($0 >= 0x41 && $0 <= 0x46) }) {
            pool = 16
        } else if all({ upper($0) || ($0 >= 0x32 && $0 <= 0x37) || $0 == 0x3D }) {
            pool = 32
        } else {
            var p = 0.0
            if bytes.contains(where: lower) { p += 26 }
            if bytes.contains(where: upper) { p += 26 }
            if bytes.contains(where: digit) { p += 10 }
            if bytes.contains(where: { $0 < 0x80 && !lower($0) && !upper($0) && !digit($0) }) { p += 33 }
            if bytes.contains(where: { $0 >= 0x80 }) { p += 128 }
            pool = p
        }
        // Characters that continue a run of 4 or more with one step (0, +1 or -1) add nothing.
        var counted = 0
        var run = 1
        for i in bytes.indices {
            if i >= 1 {
                let step = Int(bytes[i]) - Int(bytes[i - 1])
                let previous = i >= 2 ? Int(bytes[i - 1]) - Int(bytes[i - 2]) : Int.max
                run = (abs(step) <= 1 && step == previous) ? run + 1 : (abs(step) <= 1 ? 2 : 1)
            }
            if run < 4 { counted += 1 }
        }
        return Double(counted) * log2(pool)
    }
}
