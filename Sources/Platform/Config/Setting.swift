/// One environment variable a program reads, as its settings table declares it: the row
/// (`info`: name, kind and range, default, secret or not, `_FILE` allowed, one line of help),
/// the typed default, and how its text becomes a value. Built from the shared kinds:
///
/// ```swift
/// static let drain = Setting.seconds("GATEWAY_DRAIN_SECONDS", default: 3, range: 0...3600,
///     help: "on SIGTERM, seconds /healthz answers 503 before the listener closes")
/// var reader = SettingsReader(environment)
/// let drain: Duration = reader.value(drain)     // 3 s unless set; a bad value is a problem
/// ```
public struct Setting<Value: Sendable>: AnySetting {
    public let info: SettingInfo
    /// What the program uses when the variable is unset (nil: nothing, or decided elsewhere).
    public let defaultValue: Value?
    let parse: @Sendable (String) throws(ConfigProblemMessage) -> Value

    public init(info: SettingInfo, defaultValue: Value?, parse: @escaping @Sendable (String) throws(ConfigProblemMessage) -> Value) {
        self.info = info
        self.defaultValue = defaultValue
        self.parse = parse
    }
}

/// A setting of any value type, so a table can list them together.
public protocol AnySetting: Sendable {
    var info: SettingInfo { get }
}

extension Setting where Value == Duration {
    /// Seconds, fractions allowed (`zero: false`: more than 0 even though the range starts there).
    public static func seconds(_ name: String, default value: Double?, range: ClosedRange<Double>, zero: Bool = true,
                               file: Bool = true, documented: String? = nil, help: String) -> Setting {
        let kind = SettingKind.seconds(range, zero: zero)
        return Setting(info: SettingInfo(name: name, kind: kind, fileVariant: file, defaultText: documented ?? value.map(SettingKind.format) ?? "", help: help),
            defaultValue: value.map { .nanoseconds(Int64($0 * 1e9)) }, parse: { text throws(ConfigProblemMessage) in try kind.duration(text) })
    }

    /// Milliseconds.
    public static func milliseconds(_ name: String, default value: Int64?, range: ClosedRange<Double>, file: Bool = true,
                                    documented: String? = nil, help: String) -> Setting {
        let kind = SettingKind.milliseconds(range)
        return Setting(info: SettingInfo(name: name, kind: kind, fileVariant: file, defaultText: documented ?? value.map { String($0) } ?? "", help: help),
            defaultValue: value.map { .milliseconds($0) }, parse: { text throws(ConfigProblemMessage) in try kind.duration(text) })
    }
}

extension Setting where Value == Int {
    /// A whole number.
    public static func count(_ name: String, default value: Int?, range: ClosedRange<Int>, unit: String? = nil, zero: String? = nil,
                             file: Bool = true, documented: String? = nil, help: String) -> Setting {
        let kind = SettingKind.count(range, unit: unit, zero: zero)
        return Setting(info: SettingInfo(name: name, kind: kind, fileVariant: file, defaultText: documented ?? value.map { String($0) } ?? "", help: help),
            defaultValue: value, parse: { text throws(ConfigProblemMessage) in try kind.count(text) })
    }
}

extension Setting where Value == Double {
    /// A decimal number.
    public static func number(_ name: String, default value: Double?, range: ClosedRange<Double>, file: Bool = true,
                              documented: String? = nil, help: String) -> Setting {
        let kind = SettingKind.number(range)
        return Setting(info: SettingInfo(name: name, kind: kind, fileVariant: file, defaultText: documented ?? value.map(SettingKind.format) ?? "", help: help),
            defaultValue: value, parse: { text throws(ConfigProblemMessage) in try kind.number(text) })
    }
}

extension Setting where Value == Bool {
    /// `1`/`0` (and true/false, yes/no, on/off).
    public static func flag(_ name: String, default value: Bool?, file: Bool = true, documented: String? = nil, help: String) -> Setting {
        Setting(info: SettingInfo(name: name, kind: .flag, fileVariant: file, defaultText: documented ?? value.map { $0 ? "1" : "0" } ?? "", help: help),
            defaultValue: value, parse: { text throws(ConfigProblemMessage) in try SettingKind.flag(text) })
    }
}

extension Setting where Value == ListenAddress {
    /// `HOST:PORT`; `value` must parse.
    public static func listenAddress(_ name: String, default value: String?, file: Bool = true, documented: String? = nil,
                                     help: String) -> Setting {
        Setting(info: SettingInfo(name: name, kind: .listenAddress, fileVariant: file, defaultText: documented ?? value ?? "", help: help),
            defaultValue: value.map { try! ListenAddress(parsing: $0) }, parse: { text throws(ConfigProblemMessage) in try ListenAddress(parsing: text) })
    }
}

extension Setting where Value == [String] {
    /// http(s) URLs.
    public static func urlList(_ name: String, file: Bool = true, documented: String? = nil, help: String) -> Setting {
        Setting(info: SettingInfo(name: name, kind: .urlList, fileVariant: file, defaultText: documented ?? "", help: help),
            defaultValue: nil, parse: { text throws(ConfigProblemMessage) in try SettingKind.urlList(text) })
    }
}

extension Setting where Value == LogLevel {
    public static func logLevel(_ name: String, default value: LogLevel, file: Bool = true, help: String) -> Setting {
        Setting(info: SettingInfo(name: name, kind: .logLevel, fileVariant: file, defaultText: value.description, help: help),
            defaultValue: value, parse: { text throws(ConfigProblemMessage) in try SettingKind.logLevel(text) })
    }
}

extension Setting where Value == String {
    /// A path (never with a `_FILE` variant: it names a file already).
    public static func path(_ name: String, default value: String? = nil, documented: String? = nil, help: String) -> Setting {
        text(name, kind: .path, default: value, file: false, documented: documented, help: help)
    }

    /// A secret: its `_FILE` is not echoed when unreadable unless it looks like a path.
    public static func secret(_ name: String, aliases: [String] = [], file: Bool = true, documented: String? = nil, help: String) -> Setting {
        text(name, kind: .secret, aliases: aliases, file: file, documented: documented, help: help)
    }

    /// Free text, or a format the program parses itself (`kind: .custom("rate")`).
    public static func text(_ name: String, kind: SettingKind = .text, aliases: [String] = [], default value: String? = nil,
                            file: Bool = true, documented: String? = nil, help: String) -> Setting {
        Setting(info: SettingInfo(name: name, kind: kind, aliases: aliases, fileVariant: file, defaultText: documented ?? value ?? "", help: help),
            defaultValue: value, parse: { $0 })
    }

    /// One of `words`, lower-cased.
    public static func choice(_ name: String, _ words: [String], default value: String?, file: Bool = true, documented: String? = nil,
                              help: String) -> Setting {
        let kind = SettingKind.choice(words)
        return Setting(info: SettingInfo(name: name, kind: kind, fileVariant: file, defaultText: documented ?? value ?? "", help: help),
            defaultValue: value, parse: { text throws(ConfigProblemMessage) in try kind.choice(text) })
    }

    /// A family of variables sharing a prefix (`TOTP_SEED_<LABEL>`), read by the program
    /// scanning the environment; the table documents it and knows its `_FILE` variants.
    public static func family(prefix: String, placeholder: String, kind: SettingKind, file: Bool = true, help: String) -> Setting {
        Setting(info: SettingInfo(name: prefix + placeholder, kind: kind, fileVariant: file, defaultText: "", help: help, familyPrefix: prefix),
            defaultValue: nil, parse: { $0 })
    }
}
