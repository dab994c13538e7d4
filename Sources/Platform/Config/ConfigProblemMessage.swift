/// A message-only problem raised while parsing one value; the caller adds source and label
/// (it never knows them, so it cannot put a secret in the wrong place either).
///
/// ```swift
/// throw ConfigProblemMessage("check= is given twice")
/// // the loader turns it into ConfigProblem(source: "/etc/seeds:3", label: "certus", message: ...)
/// ```
public struct ConfigProblemMessage: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
