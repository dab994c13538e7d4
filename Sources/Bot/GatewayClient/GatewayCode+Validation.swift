import TOTP

/// Checks a gateway's `/code` answer before anything of it reaches a user. The bot posts the
/// code into Zulip Markdown, so a compromised gateway (or anyone on a plain-HTTP path) must not
/// be able to make it post text, mentions or links: the code must be exactly `digits` ASCII
/// digits, the label the one asked for, and the times sane. The problem names the field, never
/// its value (a code is a secret, and a hostile value does not belong in a log either).
///
/// ```swift
/// if let problem = code.problem(askedLabel: "certus", now: 1_795_601_786) {
///     logger.error("gateway_answer_invalid", ["problem": .string(problem)])
/// }
/// ```
extension GatewayCode {
    /// Why this answer must not be used, or nil when it is sound. `now` is the bot's unix time:
    /// the answer's expiry must lie within one period of what `remaining` implies, which also
    /// refuses a replayed old answer or a gateway whose clock is off by more than a period
    /// (its codes would be wrong anyway).
    public func problem(askedLabel: String, now: Int64) -> String? {
        guard label == askedLabel else { return "label differs from the one asked for" }
        guard TOTPParameters.allowedDigits.contains(digits) else {
            return "digits is not 6, 7 or 8"
        }
        guard TOTPParameters.allowedPeriods.contains(period) else {
            return "period is not 1 to 3600 seconds"
        }
        guard Self.isCode(code, digits: digits) else { return "code is not exactly \(digits) ASCII digits" }
        guard (0...period).contains(remaining) else { return "remaining is not within the period" }
        guard abs(expiresAt - (now + Int64(remaining))) <= Int64(period) else {
            return "expires_at is more than one period away from now + remaining"
        }
        if let nextCode {
            guard Self.isCode(nextCode, digits: digits) else { return "next_code is not exactly \(digits) ASCII digits" }
            guard nextExpiresAt == expiresAt + Int64(period) else {
                return "next_expires_at is not expires_at + period"
            }
        }
        return nil
    }

    /// Exactly `digits` bytes, each `0`-`9`: judged on the UTF-8 bytes, so neither other
    /// scripts' digits nor combining marks (one `Character` with its base digit) pass.
    static func isCode(_ text: String, digits: Int) -> Bool {
        text.utf8.count == digits && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}
