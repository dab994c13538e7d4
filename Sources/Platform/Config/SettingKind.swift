/// What kind of value a setting takes, with its range: the shared vocabulary of both programs'
/// settings tables. Each kind parses its text one way and refuses it with one message, so a
/// duration, a count or a flag reads the same in the gateway and in the bot.
///
/// ```swift
/// try SettingKind.count(1...256).count("300")      // throws "must be a number from 1 to 256"
/// SettingKind.milliseconds(50...60000).summary     // "milliseconds, 50 to 60000"
/// ```
public enum SettingKind: Sendable, Equatable {
    /// A number of seconds (fractions allowed) within the range; `zero: false` refuses 0 with
    /// its own message even when the range starts at 0.
    case seconds(ClosedRange<Double>, zero: Bool = true)
    /// A number of milliseconds (fractions are cut).
    case milliseconds(ClosedRange<Double>)
    /// A whole number (ASCII digits only). `unit` names what is counted ("seconds"); `zero`
    /// says what 0 means when it is special ("no limit").
    case count(ClosedRange<Int>, unit: String? = nil, zero: String? = nil)
    /// A decimal number.
    case number(ClosedRange<Double>)
    /// `1`/`0`, `true`/`false`, `yes`/`no`, `on`/`off`, in any case.
    case flag
    /// `HOST:PORT` with an IP literal (`ListenAddress`).
    case listenAddress
    /// `http://` or `https://` URLs separated by commas, spaces or newlines.
    case urlList
    /// A path to a file or directory (the value is a path already: no `_FILE` variant).
    case path
    /// A secret (a key, a token, a seed): never echoed.
    case secret
    /// Free text.
    case text
    /// `debug`, `info`, `warning` (or `warn`), `error`.
    case logLevel
    /// One of a fixed set of words, in any case.
    case choice([String])
    /// A format of the program's own (a rate, an address list), parsed where it is used; the
    /// string names it for `--help`.
    case custom(String)

    /// The kind and range in a few words, for `--help` and the tests.
    public var summary: String {
        switch self {
        case .seconds(let range, _): "seconds, \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))"
        case .milliseconds(let range): "milliseconds, \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))"
        case .count(let range, let unit, _): "\(unit ?? "count"), \(range.lowerBound) to \(range.upperBound)"
        case .number(let range): "number, \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))"
        case .flag: "1 or 0"
        case .listenAddress: "HOST:PORT"
        case .urlList: "URLs"
        case .path: "path"
        case .secret: "secret"
        case .text: "text"
        case .logLevel: "debug | info | warning | error"
        case .choice(let words): words.joined(separator: " | ")
        case .custom(let name): name
        }
    }

    // MARK: - Parsing, one function per value type

    /// A `seconds` or `milliseconds` value.
    public func duration(_ text: String) throws(ConfigProblemMessage) -> Duration {
        switch self {
        case .seconds(let range, let zero):
            guard let value = Double(text), range.contains(value) else {
                throw ConfigProblemMessage("must be a number of seconds from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
            }
            if value == 0 && !zero { throw ConfigProblemMessage("must be more than 0 seconds") }
            return .nanoseconds(Int64(value * 1e9))
        case .milliseconds(let range):
            guard let value = Double(text), range.contains(value) else {
                throw ConfigProblemMessage("must be a number of milliseconds from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
            }
            return .milliseconds(Int64(value))
        default:
            preconditionFailure("\(self) is not a duration")
        }
    }

    /// A `count` value.
    public func count(_ text: String) throws(ConfigProblemMessage) -> Int {
        guard case .count(let range, let unit, let zero) = self else { preconditionFailure("\(self) is not a count") }
        // Digits only: no sign, no spaces, no fraction; 18 digits cannot overflow.
        if text.count <= 18, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text), range.contains(n) {
            return n
        }
        if let unit { throw ConfigProblemMessage("must be a whole number of \(unit) from \(range.lowerBound) to \(range.upperBound)") }
        let low = zero.map { "\(range.lowerBound) (\($0))" } ?? "\(range.lowerBound)"
        throw ConfigProblemMessage("must be a number from \(low) to \(range.upperBound)")
    }

    /// A `number` value.
    public func number(_ text: String) throws(ConfigProblemMessage) -> Double {
        guard case .number(let range) = self else { preconditionFailure("\(self) is not a number") }
        guard let value = Double(text), range.contains(value) else {
            throw ConfigProblemMessage("must be a number from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound))")
        }
        return value
    }

    /// A `flag` value.
    public static func flag(_ text: String) throws(ConfigProblemMessage) -> Bool {
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigProblemMessage("must be 1 or 0 (true/false, yes/no, on/off)")
        }
    }

    /// A `logLevel` value.
    public static func logLevel(_ text: String) throws(ConfigProblemMessage) -> LogLevel {
        guard let level = LogLevel(parsing: text) else { throw ConfigProblemMessage("must be debug, info, warning or error") }
        return level
    }

    /// A `choice` value, lower-cased.
    public func choice(_ text: String) throws(ConfigProblemMessage) -> String {
        guard case .choice(let words) = self else { preconditionFailure("\(self) is not a choice") }
        let lowered = text.lowercased()
        guard words.contains(lowered) else {
            let list = words.count > 1 ? words.dropLast().joined(separator: ", ") + " or " + words.last! : words.joined()
            throw ConfigProblemMessage("must be \(list)")
        }
        return lowered
    }

    /// A `urlList` value: every URL, in order. Each one that is not http(s) is named (made
    /// printable and cut at 80 characters).
    public static func urlList(_ text: String) throws(ConfigProblemMessage) -> [String] {
        let urls = text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " }).map(String.init)
        let bad = urls.filter { !($0.hasPrefix("http://") || $0.hasPrefix("https://")) }
        guard bad.isEmpty else {
            throw ConfigProblemMessage(bad.map { "'\(printable($0))' must start with http:// or https://" }.joined(separator: "; "))
        }
        return urls
    }

    /// A value in an error message: control and non-ASCII characters as `?`, at most 80.
    public static func printable(_ text: String) -> String {
        String(text.unicodeScalars.prefix(80).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }

    /// A number as written in help and messages: `3`, not `3.0`; `0.01` as is.
    public static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
