/// A TOTP code with its timing. `remaining` is whole seconds until `expiresAt`
/// (unix seconds); the next step's code is present only when requested.
///
/// ```swift
/// let c = OTP.totp(secret: s, parameters: .defaults, at: 1_700_000_000, includeNext: true)
/// print(c.remaining, c.nextCode ?? "-")
/// ```
public struct TOTPCode: Sendable, Equatable {
    public let code: String
    public let step: UInt64
    public let remaining: Int
    public let expiresAt: Int64
    public let nextCode: String?
    public let nextExpiresAt: Int64?

    public init(code: String, step: UInt64, remaining: Int, expiresAt: Int64, nextCode: String?, nextExpiresAt: Int64?) {
        self.code = code
        self.step = step
        self.remaining = remaining
        self.expiresAt = expiresAt
        self.nextCode = nextCode
        self.nextExpiresAt = nextExpiresAt
    }
}
