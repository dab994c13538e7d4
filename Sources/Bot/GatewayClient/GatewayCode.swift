/// A TOTP code as the gateway returned it. `description` hides the codes so the value can be
/// printed or logged by mistake without leaking them.
///
/// ```swift
/// if case .code(let c) = gateway.fetchCode(label: "db", next: false, requestID: "r-1") {
///     reply("\(c.code), valid \(c.remaining) s more")
/// }
/// ```
public struct GatewayCode: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public var label: String
    /// The current code (a secret: never log it).
    public var code: String
    /// Time step in seconds, e.g. 30.
    public var period: Int
    public var digits: Int
    /// `SHA1`, `SHA256` or `SHA512`.
    public var algorithm: String
    /// Seconds until `code` expires.
    public var remaining: Int
    /// Unix time (seconds) at which `code` expires.
    public var expiresAt: Int64
    /// Name of the gateway instance that answered.
    public var instance: String
    /// The following period's code, when asked for with `next: true`.
    public var nextCode: String?
    public var nextExpiresAt: Int64?

    public init(
        label: String, code: String, period: Int, digits: Int, algorithm: String, remaining: Int,
        expiresAt: Int64, instance: String, nextCode: String? = nil, nextExpiresAt: Int64? = nil
    ) {
        self.label = label
        self.code = code
        self.period = period
        self.digits = digits
        self.algorithm = algorithm
        self.remaining = remaining
        self.expiresAt = expiresAt
        self.instance = instance
        self.nextCode = nextCode
        self.nextExpiresAt = nextExpiresAt
    }

    public var description: String {
        "GatewayCode(label: \(label), code: <hidden>, period: \(period), digits: \(digits), "
            + "algorithm: \(algorithm), remaining: \(remaining), expiresAt: \(expiresAt), "
            + "instance: \(instance), next: \(nextCode == nil ? "none" : "<hidden>"))"
    }

    public var debugDescription: String { description }
}

/// The gateway's JSON, field names as on the wire.
struct GatewayCodeWire: Decodable {
    var label: String
    var code: String
    var period: Int
    var digits: Int
    var algorithm: String
    var remaining: Int
    var expires_at: Int64
    var instance: String
    var next_code: String?
    var next_expires_at: Int64?

    var value: GatewayCode {
        GatewayCode(
            label: label, code: code, period: period, digits: digits, algorithm: algorithm,
            remaining: remaining, expiresAt: expires_at, instance: instance, nextCode: next_code,
            nextExpiresAt: next_expires_at)
    }
}

/// The gateway's error JSON: `{"error":"forbidden","message":"..."}`.
struct GatewayErrorWire: Decodable {
    var error: String
    var message: String?
}
