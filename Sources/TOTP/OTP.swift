import Crypto

/// HOTP (RFC 4226) and TOTP (RFC 6238). Pure functions: the time is always passed in,
/// so the clock is injected and tests use the RFC vectors directly.
///
/// ```swift
/// OTP.hotp(secret: Array("12345678901234567890".utf8), counter: 1, digits: 6, algorithm: .sha1) // "287082"
/// let t = OTP.totp(secret: s, parameters: .defaults, at: 59)   // t.code, t.remaining, t.expiresAt
/// ```
public enum OTP {
    private static let powersOfTen: [UInt32] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000]

    /// RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits,
    /// left-padded with zeros.
    public static func hotp(secret: [UInt8], counter: UInt64, digits: Int, algorithm: HashAlgorithm) -> String {
        precondition(TOTPParameters.allowedDigits.contains(digits), "digits out of range")
        var message = [UInt8](repeating: 0, count: 8)
        for i in 0..<8 { message[i] = UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64(i))) }
        let mac = Crypto.hmac(algorithm, key: secret, message: message)
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        let value = binary % powersOfTen[digits]
        let text = String(value)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The time step containing `unixTime` (T0 = 0). Times before 1970 are not valid TOTP times.
    public static func step(at unixTime: Int64, period: Int) -> UInt64 {
        precondition(unixTime >= 0, "TOTP time must not be before 1970")
        return UInt64(unixTime) / UInt64(period)
    }

    /// The code at `unixTime` with its timing; `includeNext` also computes the following step's code.
    public static func totp(secret: [UInt8], parameters: TOTPParameters, at unixTime: Int64, includeNext: Bool = false) -> TOTPCode {
        let step = step(at: unixTime, period: parameters.period)
        let period = Int64(parameters.period)
        let expiresAt = (Int64(step) + 1) * period
        let code = hotp(secret: secret, counter: step, digits: parameters.digits, algorithm: parameters.algorithm)
        let next = includeNext
            ? hotp(secret: secret, counter: step + 1, digits: parameters.digits, algorithm: parameters.algorithm)
            : nil
        return TOTPCode(
            code: code, step: step, remaining: Int(expiresAt - unixTime), expiresAt: expiresAt,
            nextCode: next, nextExpiresAt: includeNext ? expiresAt + period : nil)
    }
}
