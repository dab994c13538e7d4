import TOTP
import Crypto
import Platform
import TextSupport

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
    /// Errors never contain the seed or the codes, and positions count in `text` as given.
    public static func parse(_ text: String, defaults: TOTPParameters) throws(ConfigProblemMessage) -> SeedSpec {
        let scalars = text.unicodeScalars
        var seedEnd = scalars.endIndex
        var check: (code: String, time: Int64)? = nil
        // One word of printable ASCII (almost every seed in a file) has no space to trim and no
        // option unless it is one: it is the seed as it stands, without scanning words backwards.
        let oneWord = text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } && !text.prefix(6).lowercased().hasPrefix("check=")
        // Only trailing words starting with `check=` are options. Any other `x=y` word goes to the
        // decoder, which reports a position: a word's name may be a piece of a mistyped seed, so it
        // is never echoed. The seed stays a prefix of `text`, so positions are the operator's.
        while !oneWord, let word = lastWord(scalars[..<seedEnd]), word.text.lowercased().hasPrefix("check=") {
            guard check == nil else { throw ConfigProblemMessage("check= is given twice") }
            let parts = word.text.dropFirst("check=".count).split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit),
                !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit), let time = Int64(parts[1])
            else {
                throw ConfigProblemMessage("check= must be CODE@UNIXTIME, e.g. check=123456@1700000000")
            }
            check = (String(parts[0]), time)
            seedEnd = word.start
        }
        // Copied as a substring (one memcpy): building a String scalar by scalar was a third of
        // the time a 30,000-label file took to load.
        let seedText = oneWord ? text : String(Substring(scalars[..<seedEnd]))
        let trimmed = oneWord ? text : trimmingSeparators(seedText)
        guard !trimmed.isEmpty else {
            throw ConfigProblemMessage("the seed is empty; an empty HMAC key yields plausible but useless codes")
        }
        let secret: [UInt8]
        let parameters: TOTPParameters
        var issuer: String? = nil
        if OTPAuthURI.looksLikeURI(trimmed) {
            do {
                let uri = try OTPAuthURI(parsing: trimmed)
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
                throw ConfigProblemMessage(error.description + optionHint(seedText, failure: error))
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

    /// The last whitespace-separated word of `text` and where it starts.
    private static func lastWord(_ text: Substring.UnicodeScalarView) -> (text: String, start: String.Index)? {
        var end = text.endIndex
        while end > text.startIndex, Base32.isSpace(text[text.index(before: end)]) { end = text.index(before: end) }
        guard end > text.startIndex else { return nil }
        var start = end
        while start > text.startIndex, !Base32.isSpace(text[text.index(before: start)]) { start = text.index(before: start) }
        return (String(Substring(text[start..<end])), start)
    }

    private static func trimmingSeparators(_ text: String) -> String {
        var s = Substring(text).unicodeScalars
        while let f = s.first, Base32.isSpace(f) || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, Base32.isSpace(l) || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(Substring(s))
    }

    /// When the decoder stopped inside a trailing `name=value` word, says what may follow a seed
    /// (without the word: it may be a piece of the seed).
    private static func optionHint(_ seedText: String, failure: Base32.Failure) -> String {
        let position: Int
        switch failure.kind {
        case .invalidCharacter(let p), .misplacedPadding(let p): position = p
        default: return ""
        }
        let scalars = seedText.unicodeScalars
        guard let word = lastWord(scalars[...]), scalars[..<word.start].contains(where: { !Base32.isSpace($0) }),
            let eq = word.text.firstIndex(of: "="), word.text[eq...].contains(where: { $0 != "=" }),
            scalars.distance(from: scalars.startIndex, to: word.start) < position
        else { return "" }
        return "; only check=CODE@UNIXTIME may follow a seed: give algorithm, digits and period in an otpauth:// URI"
    }
}
