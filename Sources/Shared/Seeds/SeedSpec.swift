/// The text that defines one seed: base32 or an otpauth URI, optionally followed by
/// `check=CODE@UNIXTIME`. Parsing validates everything and runs the self-check.
///
/// ```swift
/// let spec = try SeedSpec.parse("JBSWY3DPEHPK3PXP check=282760@0", defaults: .defaults)
/// ```
public struct SeedSpec: Sendable {
    let secret: [UInt8]
    public let parameters: TOTPParameters
    public let issuer: String?
    /// The self-check that was verified, if any (`code@time`; the code is a past one).
    public let checkedAt: Int64?

    /// Seeds shorter than this many bits get a warning (RFC 4226 §4 requires 128, recommends 160).
    public static let recommendedMinimumBits = 128

    public var bits: Int { secret.count * 8 }

    /// Parses `text`; `defaults` apply to plain base32 (an otpauth URI carries its own parameters).
    /// Errors never contain the seed or the codes.
    public static func parse(_ text: String, defaults: TOTPParameters) throws(ConfigProblemMessage) -> SeedSpec {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var check: (code: String, time: Int64)? = nil
        // Options are trailing `name=value` tokens; base32 can only end in '=' padding.
        while let last = tokens.last, let eq = last.firstIndex(of: "="), last.index(after: eq) < last.endIndex,
            last[last.index(after: eq)] != "=", !OTPAuthURI.looksLikeURI(last)
        {
            let name = last[..<eq].lowercased()
            let value = String(last[last.index(after: eq)...])
            guard name == "check" else {
                throw ConfigProblemMessage(
                    "unknown option '\(OTPAuthURI.printable(name))' after the seed: only check=CODE@UNIXTIME is understood; give algorithm, digits and period in an otpauth:// URI")
            }
            guard check == nil else { throw ConfigProblemMessage("check= is given twice") }
            let parts = value.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit),
                let time = Int64(parts[1]), time >= 0
            else {
                throw ConfigProblemMessage("check= must be CODE@UNIXTIME, e.g. check=123456@1700000000")
            }
            check = (String(parts[0]), time)
            tokens.removeLast()
        }
        let seedText = tokens.joined(separator: " ")
        guard !seedText.isEmpty else {
            throw ConfigProblemMessage("the seed is empty; an empty HMAC key yields plausible but useless codes")
        }
        let secret: [UInt8]
        let parameters: TOTPParameters
        var issuer: String? = nil
        if OTPAuthURI.looksLikeURI(seedText) {
            do {
                let uri = try OTPAuthURI(parsing: seedText)
                secret = uri.secret
                parameters = uri.parameters
                issuer = uri.issuer
            } catch {
                throw ConfigProblemMessage(error.description)
            }
        } else {
            do { secret = try Base32.decode(seedText) } catch {
                if case .empty = error.kind {
                    throw ConfigProblemMessage("the seed is empty; an empty HMAC key yields plausible but useless codes")
                }
                throw ConfigProblemMessage(error.description)
            }
            parameters = defaults
        }
        if let check {
            guard check.code.count == parameters.digits else {
                throw ConfigProblemMessage(
                    "check= code has \(check.code.count) digits but the seed is configured for \(parameters.digits) (\(parameters))")
            }
            let computed = OTP.totp(secret: secret, parameters: parameters, at: check.time).code
            guard Crypto.constantTimeEqual(Array(computed.utf8), Array(check.code.utf8)) else {
                throw ConfigProblemMessage(
                    "self-check failed: the code computed for time \(check.time) with \(parameters) differs from check=; the seed, algorithm, digits or period is wrong")
            }
        }
        return SeedSpec(secret: secret, parameters: parameters, issuer: issuer, checkedAt: check?.time)
    }
}
