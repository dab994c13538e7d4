/// Every problem found while loading a configuration, reported together so one run shows them all.
///
/// ```swift
/// do { _ = try loader.load() } catch { print(error) }   // one problem per line
/// ```
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [ConfigProblem]

    public init(_ problems: [ConfigProblem]) { self.problems = problems }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
