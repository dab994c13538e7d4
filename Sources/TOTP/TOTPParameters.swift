import Crypto

/// The public parameters of a TOTP seed: hash, digit count and period. Validated on creation,
/// so a `TOTPParameters` value is always usable.
///
/// ```swift
/// let p = try TOTPParameters(algorithm: .sha256, digits: 8, period: 60)
/// ```
public struct TOTPParameters: Sendable, Equatable, Hashable, CustomStringConvertible {
    public static let defaults = TOTPParameters(unchecked: .sha1, digits: 6, period: 30)
    public static let allowedDigits = 6...8
    public static let allowedPeriods = 1...3600

    public let algorithm: HashAlgorithm
    public let digits: Int
    public let period: Int

    /// Why parameters were refused.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    public init(algorithm: HashAlgorithm = .sha1, digits: Int = 6, period: Int = 30) throws(Invalid) {
        guard Self.allowedDigits.contains(digits) else {
            throw Invalid(description: "digits must be 6, 7 or 8 (got \(digits))")
        }
        guard Self.allowedPeriods.contains(period) else {
            throw Invalid(description: "period must be 1 to 3600 seconds (got \(period))")
        }
        self.init(unchecked: algorithm, digits: digits, period: period)
    }

    private init(unchecked algorithm: HashAlgorithm, digits: Int, period: Int) {
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    public var description: String { "\(algorithm.name)/\(digits)/\(period)s" }
}
