/// Where a seed was defined, for error messages and duplicate detection.
///
/// ```swift
/// SeedSource.file(path: "/etc/totp/seeds", line: 3).description   // "/etc/totp/seeds:3"
/// ```
public enum SeedSource: Sendable, Equatable, CustomStringConvertible {
    case environment(variable: String)
    case labelsList(variable: String, entry: Int)
    case file(path: String, line: Int)
    case credential(directory: String, name: String)

    public var description: String {
        switch self {
        case .environment(let variable): "environment variable \(variable)"
        case .labelsList(let variable, let entry): "\(variable) entry \(entry)"
        case .file(let path, let line): "\(path):\(line)"
        case .credential(let directory, let name): "credential \(name) (\(directory))"
        }
    }
}
