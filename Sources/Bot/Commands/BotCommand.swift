import TextSupport

/// What a DM asks for. Case-insensitive verbs; surrounding whitespace, a leading mention and
/// backticks around the label are tolerated. The text after `code <label>` is the reason, and
/// after `deny <n>` the why, both kept as written.
///
/// ```swift
/// BotCommand.parse("CODE Certus")                  // .code(label: "certus")
/// BotCommand.parse("code prod deploy hotfix 12")   // .code(label: "prod", reason: "deploy hotfix 12")
/// BotCommand.parse("deny #7 not now")              // .deny(number: 7, why: "not now")
/// BotCommand.parse("labels")                       // .labels
/// ```
enum BotCommand: Sendable, Equatable {
    /// `code <label> [reason]`; `label` is the lower-cased text, valid or not (validity is
    /// checked by the handler so that an invalid name gets the same answer as a forbidden one).
    case code(label: String, reason: String? = nil)
    /// `approve [n]` (nil: the one request waiting for the sender).
    case approve(number: Int?)
    /// `deny [n] [why]`.
    case deny(number: Int?, why: String?)
    case pending
    case grants
    case labels
    case help
    /// Anything else (answered with the help text).
    case unknown

    static func parse(_ content: String) -> BotCommand {
        var words = Self.words(content)
        // "@**TOTP Bot** code x" in a group DM: drop the mention.
        while let first = words.first, first.text.hasPrefix("@") {
            words.removeFirst()
            if !first.text.hasSuffix("**") {
                while let w = words.first, !w.text.hasSuffix("**") { words.removeFirst() }
                if !words.isEmpty { words.removeFirst() }
            }
        }
        guard let verb = words.first?.text.lowercased() else { return .unknown }
        /// The text after word `i`, as written (nil when there is none).
        func rest(after i: Int) -> String? {
            guard i < words.count else { return nil }
            let text = content[words[i].end...].trimmingCharacters(in: " \t\n\r")  // not "\r\n": that is one Character
            return text.isEmpty ? nil : text
        }
        func number(_ i: Int) -> Int? {
            guard i < words.count else { return nil }
            var text = Substring(words[i].text)
            if text.hasPrefix("#") { text = text.dropFirst() }
            return !text.isEmpty && text.allSatisfy(\.isASCIIDigit) && text.count <= 9 ? Int(text) : nil
        }
        switch verb {
        case "code":
            guard words.count >= 2 else { return .help }
            return .code(label: words[1].text.trimmingCharacters(in: "`'\"").lowercased(), reason: rest(after: 1))
        case "approve":
            if words.count == 1 { return .approve(number: nil) }
            guard let n = number(1), words.count == 2 else { return .unknown }
            return .approve(number: n)
        case "deny":
            if let n = number(1) { return .deny(number: n, why: rest(after: 1)) }
            return .deny(number: nil, why: rest(after: 0))
        case "pending":
            return words.count == 1 ? .pending : .unknown
        case "grants":
            return words.count == 1 ? .grants : .unknown
        case "labels", "list":
            return words.count == 1 ? .labels : .unknown
        case "help", "?":
            return .help
        default:
            return .unknown
        }
    }

    /// A word of the message and where it ends in it.
    private struct Word {
        var text: String
        var end: String.Index
    }

    private static func words(_ content: String) -> [Word] {
        var out: [Word] = []
        var start: String.Index? = nil
        var i = content.startIndex
        while i < content.endIndex {
            let c = content[i]
            if c == " " || c == "\n" || c == "\t" || c == "\r" {
                if let s = start { out.append(Word(text: String(content[s..<i]), end: i)) }
                start = nil
            } else if start == nil {
                start = i
            }
            i = content.index(after: i)
        }
        if let s = start { out.append(Word(text: String(content[s...]), end: content.endIndex)) }
        return out
    }
}
