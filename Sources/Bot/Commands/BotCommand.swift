import TextSupport

/// What a DM asks for. Case-insensitive; surrounding whitespace, a leading mention and
/// backticks around the label are tolerated.
///
/// ```swift
/// BotCommand.parse("CODE Certus")   // .code(label: "certus")
/// BotCommand.parse("labels")        // .labels
/// ```
enum BotCommand: Sendable, Equatable {
    /// `code <label>`; `label` is the lower-cased text, valid or not (validity is checked by
    /// the handler so that an invalid name gets the same answer as a forbidden one).
    case code(label: String)
    case labels
    case help
    /// Anything else (answered with the help text).
    case unknown

    static func parse(_ content: String) -> BotCommand {
        var words = content.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }).map(String.init)
        // "@**TOTP Bot** code x" in a group DM: drop the mention.
        while let first = words.first, first.hasPrefix("@") {
            words.removeFirst()
            if !first.hasSuffix("**") {
                while let w = words.first, !w.hasSuffix("**") { words.removeFirst() }
                if !words.isEmpty { words.removeFirst() }
            }
        }
        guard let verb = words.first?.lowercased() else { return .unknown }
        switch verb {
        case "code":
            guard words.count == 2 else { return words.count == 1 ? .help : .unknown }
            return .code(label: words[1].trimmingCharacters(in: "`'\"").lowercased())
        case "labels", "list":
            return words.count == 1 ? .labels : .unknown
        case "help", "?":
            return .help
        default:
            return .unknown
        }
    }
}
