import TOTP

/// A loaded seed: label, parameters and source are public; the secret has no printable form.
/// A class: the store, the routes and every request share one copy (at 30,000 labels, copying
/// a struct of six references cost more retains than the rest of a reload's work).
///
/// ```swift
/// let entry = store.entry(for: "certus")!
/// entry.parameters.digits   // 6
/// ```
public final class SeedEntry: Sendable, CustomStringConvertible {
    public let label: String
    public let parameters: TOTPParameters
    public let issuer: String?
    public let source: SeedSource
    public let bits: Int
    let secret: [UInt8]
    private let cache = CodeCache()

    init(label: String, parameters: TOTPParameters, issuer: String?, source: SeedSource, bits: Int, secret: [UInt8]) {
        self.label = label
        self.parameters = parameters
        self.issuer = issuer
        self.source = source
        self.bits = bits
        self.secret = secret
    }

    public var isWeak: Bool { bits < SeedSpec.recommendedMinimumBits }

    /// The code at `unixTime`, with the next one when asked.
    /// Codes change once per period, so the current and next codes are computed once per step
    /// and reused: the HMAC leaves the request path.
    public func code(at unixTime: Int64, includeNext: Bool = false) -> TOTPCode {
        let step = OTP.step(at: unixTime, period: parameters.period)
        let pair = cache.codes(for: step) {
            (OTP.hotp(secret: secret, counter: step, digits: parameters.digits, algorithm: parameters.algorithm),
             OTP.hotp(secret: secret, counter: step + 1, digits: parameters.digits, algorithm: parameters.algorithm))
        }
        let period = Int64(parameters.period)
        let expiresAt = (Int64(step) + 1) * period
        return TOTPCode(code: pair.current, step: step, remaining: Int(expiresAt - unixTime), expiresAt: expiresAt,
            nextCode: includeNext ? pair.next : nil, nextExpiresAt: includeNext ? expiresAt + period : nil)
    }

    public var description: String { "SeedEntry(\(label), \(parameters), \(source), secret redacted)" }
}
