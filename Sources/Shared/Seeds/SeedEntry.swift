/// A loaded seed: label, parameters and source are public; the secret stays inside `Shared`
/// and has no printable form.
///
/// ```swift
/// let entry = store.entry(for: "certus")!
/// entry.parameters.digits   // 6
/// ```
public struct SeedEntry: Sendable, CustomStringConvertible {
    public let label: String
    public let parameters: TOTPParameters
    public let issuer: String?
    public let source: SeedSource
    public let bits: Int
    let secret: [UInt8]

    public var isWeak: Bool { bits < SeedSpec.recommendedMinimumBits }

    /// The code at `unixTime`, with the next one when asked.
    public func code(at unixTime: Int64, includeNext: Bool = false) -> TOTPCode {
        OTP.totp(secret: secret, parameters: parameters, at: unixTime, includeNext: includeNext)
    }

    public var description: String { "SeedEntry(\(label), \(parameters), \(source), secret redacted)" }
}
