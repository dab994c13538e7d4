/// One row of a settings table, whatever the value's type: what `--help`, the README and the
/// unknown-`*_FILE` check need to know about a variable.
///
/// ```swift
/// GatewaySettings.drain.info.defaultText   // "3"
/// GatewaySettings.tokens.info.secret       // true
/// ```
public struct SettingInfo: Sendable, Equatable {
    /// The variable, e.g. `GATEWAY_LISTEN`; for a family, prefix and placeholder (`TOTP_SEED_<LABEL>`).
    public let name: String
    public let kind: SettingKind
    /// Other names read when `name` is unset, in order (the official Zulip client's names).
    public let aliases: [String]
    /// Never echoed, not even an unreadable `_FILE` value that does not look like a path.
    public let secret: Bool
    /// `NAME_FILE=/path` may give the value instead.
    public let fileVariant: Bool
    /// The default as `--help` and the README's default column show it; "" when there is none.
    public let defaultText: String
    /// One line for `--help`.
    public let help: String
    /// For a family of variables: their common prefix (`TOTP_SEED_`).
    public let familyPrefix: String?

    public init(name: String, kind: SettingKind, aliases: [String] = [], fileVariant: Bool, defaultText: String, help: String,
                familyPrefix: String? = nil) {
        self.name = name
        self.kind = kind
        self.aliases = aliases
        self.secret = kind == .secret
        self.fileVariant = fileVariant && kind != .path
        self.defaultText = defaultText
        self.help = help
        self.familyPrefix = familyPrefix
    }

    /// Every variable name this row reads directly (the name and its aliases; not a family).
    public var names: [String] { familyPrefix == nil ? [name] + aliases : [] }
}
