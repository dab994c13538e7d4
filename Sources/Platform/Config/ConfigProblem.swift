/// One configuration mistake: where it is (variable, file and line, credential), which label
/// if any, and what to do. Never carries a secret value.
///
/// ```swift
/// ConfigProblem(source: "/etc/seeds:3", label: "certus", message: "empty seed")
/// // "/etc/seeds:3: label 'certus': empty seed"
/// ```
public struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let label: String?
    public let message: String

    public init(source: String, label: String? = nil, message: String) {
        self.source = source
        self.label = label
        self.message = message
    }

    public var description: String {
        if let label { return "\(source): label '\(label)': \(message)" }
        return "\(source): \(message)"
    }
}
