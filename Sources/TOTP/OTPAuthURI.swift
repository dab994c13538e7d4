import Crypto
import TextSupport

/// A parsed `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=...&digits=...&period=...`
/// (Google Key URI format). Every parameter is understood or refused: an unknown or repeated
/// parameter is an error, never silently ignored, because a dropped `digits=8` yields wrong codes.
///
/// ```swift
/// let uri = try OTPAuthURI(parsing: "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP&issuer=ACME")
/// uri.parameters   // SHA1/6/30s
/// ```
public struct OTPAuthURI: Sendable, Equatable {
    public let secret: [UInt8]
    public let parameters: TOTPParameters
    public let issuer: String?
    public let account: String

    /// Why a URI was refused. The message quotes nothing from the URI (the secret may be anywhere
    /// in a mangled one), only fixed names.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public static let knownParameters: Set<String> = ["secret", "issuer", "algorithm", "digits", "period"]
    /// Parameters other formats define that the gateway refuses by name (hotp's counter, images).
    static let unsupportedParameters: Set<String> = ["counter", "image", "icon", "lock", "color", "tags", "encoder", "pin", "digest"]

    /// True when `text` looks like an otpauth URI (so callers can choose base32 or URI parsing).
    public static func looksLikeURI(_ text: String) -> Bool {
        text.lowercased().hasPrefix("otpauth:")
    }

    public init(parsing text: String) throws(Failure) {
        let lower = text.lowercased()
        guard lower.hasPrefix("otpauth://") else {
            throw Failure("not an otpauth URI: it must start with otpauth://totp/")
        }
        // A pasted URI with a raw space would otherwise fail later with a misleading message
        // (SeedSpec hands the whole text over, spaces included).
        if let space = text.unicodeScalars.firstIndex(where: { $0.properties.isWhitespace }) {
            let position = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: space) + 1
            throw Failure("the otpauth URI has a space at position \(position): spaces in an otpauth URI must be written %20")
        }
        var rest = Substring(text.dropFirst("otpauth://".count))
        if rest.contains("#") { throw Failure("otpauth URI must not contain a '#' fragment") }
        guard let slash = rest.firstIndex(of: "/") else {
            throw Failure("otpauth URI has no label: expected otpauth://totp/ISSUER:ACCOUNT?secret=...")
        }
        let type = rest[..<slash].lowercased()
        switch type {
        case "totp": break
        case "hotp":
            throw Failure("otpauth://hotp (counter-based) is not supported: the gateway only serves time-based (totp) codes")
        default:
            throw Failure("unknown otpauth type (the part between otpauth:// and the next '/'): only totp is supported")
        }
        rest = rest[rest.index(after: slash)...]
        let pathPart: Substring
        let queryPart: Substring
        if let q = rest.firstIndex(of: "?") {
            pathPart = rest[..<q]
            queryPart = rest[rest.index(after: q)...]
        } else {
            pathPart = rest
            queryPart = ""
        }
        let label = try Self.percentDecode(pathPart, what: "label", plusIsSpace: false)
        var labelIssuer: String? = nil
        var account = label
        if let colon = label.firstIndex(of: ":") {
            labelIssuer = String(label[..<colon]).trimmingSpaces()
            account = String(label[label.index(after: colon)...]).trimmingSpaces()
        }
        guard !account.trimmingSpaces().isEmpty else {
            throw Failure("the otpauth URI has an empty account name: expected otpauth://totp/ISSUER:ACCOUNT?secret=...")
        }

        var values: [String: String] = [:]
        for (index, item) in queryPart.split(separator: "&", omittingEmptySubsequences: true).enumerated() {
            let pieces = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.percentDecode(pieces[0], what: "parameter name", plusIsSpace: false).lowercased()
            guard Self.knownParameters.contains(name) else {
                // Only names from a fixed list are echoed: a mangled URI (`?JBSW...`, `secret:JBSW...`)
                // puts the seed where the name should be.
                let named = Self.unsupportedParameters.contains(name) ? "'\(name)'" : "number \(index + 1)"
                throw Failure(
                    "unknown otpauth parameter \(named) (understood: secret, issuer, algorithm, digits, period); remove it or check the URI")
            }
            guard values[name] == nil else { throw Failure("otpauth parameter '\(name)' is given twice") }
            guard pieces.count == 2 else { throw Failure("otpauth parameter '\(name)' has no value") }
            values[name] = try Self.percentDecode(pieces[1], what: "parameter '\(name)'", plusIsSpace: name == "issuer")
        }

        guard let secretText = values["secret"], !secretText.isEmpty else {
            throw Failure("otpauth URI has no secret= parameter")
        }
        let secret: [UInt8]
        do { secret = try Base32.decode(secretText) } catch { throw Failure("secret: \(error)") }

        var algorithm = HashAlgorithm.sha1
        if let a = values["algorithm"] {
            guard let parsed = HashAlgorithm(name: a) else {
                throw Failure("unknown algorithm= value: use SHA1, SHA256 or SHA512")
            }
            algorithm = parsed
        }
        var digits = 6
        if let d = values["digits"] {
            // Plain digits only: Int("+6") is 6, but no authenticator writes a sign.
            guard !d.isEmpty, d.allSatisfy(\.isASCIIDigit), let n = Int(d), TOTPParameters.allowedDigits.contains(n) else {
                throw Failure("digits must be 6, 7 or 8")
            }
            digits = n
        }
        var period = 30
        if let p = values["period"] {
            guard !p.isEmpty, p.allSatisfy(\.isASCIIDigit), let n = Int(p), TOTPParameters.allowedPeriods.contains(n) else {
                throw Failure("period must be a whole number of seconds from 1 to 3600")
            }
            period = n
        }
        let issuerParam = values["issuer"]
        if let a = labelIssuer, let b = issuerParam, a != b {
            throw Failure("the label's issuer (before the ':') differs from issuer=; make them equal")
        }
        self.secret = secret
        do { self.parameters = try TOTPParameters(algorithm: algorithm, digits: digits, period: period) } catch {
            throw Failure(error.description)
        }
        self.issuer = issuerParam ?? labelIssuer
        self.account = account
    }

    static func percentDecode(_ text: Substring, what: String, plusIsSpace: Bool) throws(Failure) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var it = Array(text.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard it.count >= 2, let v = Crypto.unhex(String(decoding: it.prefix(2), as: UTF8.self)) else {
                    throw Failure("bad percent-encoding in the \(what)")
                }
                bytes.append(v[0])
                it = it.dropFirst(2)
            } else if c == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(c)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw Failure("the \(what) is not valid UTF-8 after percent-decoding")
        }
        return s
    }
}
