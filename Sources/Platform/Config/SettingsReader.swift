/// Reads settings from an environment through their declarations, collecting every problem so
/// that one run reports them all. A variable with a `_FILE` variant is read through
/// `Environment.value` (`NAME` or `NAME_FILE`, not both); one without is read as is. An empty
/// value counts as unset.
///
/// ```swift
/// var reader = SettingsReader(environment)
/// let loops = reader.optional(GatewaySettings.eventLoops)   // nil: unset (or refused)
/// let drain = reader.value(GatewaySettings.drain)           // the default when unset
/// if !reader.problems.isEmpty { throw ConfigError(reader.problems) }
/// ```
public struct SettingsReader: Sendable {
    public let environment: Environment
    public private(set) var problems: [ConfigProblem] = []

    public init(_ environment: Environment) { self.environment = environment }

    /// The text of the first of the setting's names that is set, and where it came from.
    public mutating func sourced<Value>(_ setting: Setting<Value>) -> Environment.Sourced? {
        let info = setting.info
        precondition(info.familyPrefix == nil, "\(info.name): a family is read by scanning the environment")
        for name in info.names {
            if info.fileVariant {
                do {
                    if let found = try environment.value(name, secret: info.secret) { return found }
                } catch {
                    problems.append(error)
                }
            } else if let text = environment[name], !text.isEmpty {
                return Environment.Sourced(value: text, source: name)
            }
        }
        return nil
    }

    /// The parsed value, or the declared default (nil if none) when unset or refused; a refusal
    /// is recorded as a problem naming where the text came from.
    public mutating func optional<Value>(_ setting: Setting<Value>) -> Value? {
        guard let text = sourced(setting) else { return setting.defaultValue }
        do { return try setting.parse(text.value) } catch {
            problems.append(ConfigProblem(source: text.source, message: error.description))
            return setting.defaultValue
        }
    }

    /// The parsed value, or the declared default; for settings that have one.
    public mutating func value<Value>(_ setting: Setting<Value>) -> Value {
        guard let value = optional(setting) else { preconditionFailure("\(setting.info.name) has no default; read it with optional()") }
        return value
    }

    /// Records a problem found while interpreting a value (a cross-check between settings).
    public mutating func record(_ problem: ConfigProblem) { problems.append(problem) }

    /// Records the problems of a parse done by the caller.
    public mutating func record(_ error: ConfigError) { problems += error.problems }

    /// Runs `parse` on a value's text and source, recording what it throws.
    public mutating func attempt<T>(_ parse: () throws(ConfigProblem) -> T) -> T? {
        do { return try parse() } catch {
            problems.append(error)
            return nil
        }
    }
}
