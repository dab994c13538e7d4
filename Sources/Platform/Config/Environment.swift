#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The process environment as an immutable value, with the `NAME_FILE` convention: every
/// variable may instead be given as a path to a file holding its value (docker secrets under
/// `/run/secrets`, systemd credentials). Giving both is an error.
///
/// ```swift
/// let env = Environment.current()
/// if let token = try env.value("GATEWAY_TOKEN") { use(token.value) }   // token.source names where it came from
/// ```
public struct Environment: Sendable {
    public let values: [String: String]
    /// Collects the names looked up (tests hold the settings tables to what the loaders read).
    private let reads: ReadLog?

    public init(_ values: [String: String]) {
        self.values = values
        reads = nil
    }

    private init(_ values: [String: String], reads: ReadLog) {
        self.values = values
        self.reads = reads
    }

    /// The names looked up in an environment, in no order.
    public final class ReadLog: Sendable {
        private let names = Mutex<Set<String>>([])
        public init() {}
        public var all: Set<String> { names.withLock { $0 } }
        func add(_ name: String) { names.withLock { _ = $0.insert(name) } }
    }

    /// The same values; every name looked up is added to `log`.
    public func recordingReads(into log: ReadLog) -> Environment { Environment(values, reads: log) }

    /// Reads `environ`.
    public static func current() -> Environment {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            p += 1
        }
        return Environment(result)
    }

    public subscript(name: String) -> String? {
        reads?.add(name)
        return values[name]
    }

    /// A value and a human-readable description of where it came from.
    public struct Sourced: Sendable, Equatable {
        public let value: String
        public let source: String

        public init(value: String, source: String) {
            self.value = value
            self.source = source
        }
    }

    /// `NAME` or the content of the file named by `NAME_FILE` (trailing newlines removed).
    /// Empty `NAME` counts as unset. For a `secret` variable, an unreadable `NAME_FILE` that does
    /// not look like a path is not echoed: it is likely the secret itself, put in the wrong variable.
    public func value(_ name: String, secret: Bool = true) throws(ConfigProblem) -> Sourced? {
        let direct = self[name].flatMap { $0.isEmpty ? nil : $0 }
        let file = self[name + "_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        switch (direct, file) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw ConfigProblem(source: name, message: "both \(name) and \(name)_FILE are set; set only one")
        case (let v?, nil):
            return Sourced(value: v, source: name)
        case (nil, let path?):
            do {
                let text = try FileIO.readText(path, maxBytes: 1 << 20)
                return Sourced(value: Self.trimTrailingNewlines(text), source: "\(name)_FILE (\(path))")
            } catch {
                throw secret ? .unreadableFile(error, variable: name + "_FILE")
                    : ConfigProblem(source: "\(name)_FILE", message: error.description)
            }
        }
    }

    /// Removes trailing `\n`/`\r` (secret files usually end with one).
    public static func trimTrailingNewlines(_ text: String) -> String {
        var s = Substring(text)
        while let last = s.last, last == "\n" || last == "\r" || last == "\r\n" { s = s.dropLast() }
        return String(s)
    }
}
