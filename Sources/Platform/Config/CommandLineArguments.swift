/// A command line taken one word at a time: flags (`--check-config`), options with a value
/// given either way (`--listen 127.0.0.1:9000` or `--listen=127.0.0.1:9000`), and the rest.
///
/// ```swift
/// var words = CommandLineArguments(["--listen", "127.0.0.1:9000", "--check-config"])
/// while let word = words.next() {
///     if let value = try words.option("--listen", in: word, missing: "--listen needs HOST:PORT") { listen = value; continue }
///     if word == "--check-config" { check = true } else { throw CommandLineArguments.UsageError("unknown argument '\(word)'") }
/// }
/// ```
public struct CommandLineArguments: Sendable {
    /// A command-line mistake (exit 2), with what to do about it.
    public struct UsageError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    private var words: ArraySlice<String>

    public init(_ words: [String]) { self.words = words[...] }

    /// The next word, or nil at the end.
    public mutating func next() -> String? { words.popFirst() }

    /// When `word` is the option `name` (`--name VALUE` or `--name=VALUE`), its value (taking
    /// the next word in the first form); nil when `word` is something else.
    public mutating func option(_ name: String, in word: String, missing: String) throws(UsageError) -> String? {
        if word.hasPrefix(name + "=") { return String(word.dropFirst(name.count + 1)) }
        guard word == name else { return nil }
        guard let value = words.popFirst() else { throw UsageError(missing) }
        return value
    }
}
