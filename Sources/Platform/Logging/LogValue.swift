/// A value in a structured log line. Secrets have no case here on purpose: a seed, token or
/// code must be turned into something harmless (a label, a keyed hash) before it can be logged.
///
/// ```swift
/// logger.info("request", ["status": 200, "route": "/code"])
/// ```
public enum LogValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral, ExpressibleByStringInterpolation
{
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }

    func appendJSON(to out: inout String) {
        switch self {
        case .string(let s): JSONText.appendString(s, to: &out)
        case .int(let i): out.append(String(i))
        case .double(let d): out.append(d.isFinite ? "\(d)" : "null")
        case .bool(let b): out.append(b ? "true" : "false")
        }
    }
}

extension LogValue {
    /// Convenience for `Int` values.
    public static func int(_ value: Int) -> LogValue { .int(Int64(value)) }
}
