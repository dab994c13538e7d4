/// A program's settings, declared once: `--help` lists them from here, the unknown-`*_FILE`
/// check knows every name from here, and a test holds the README's configuration tables to it.
///
/// ```swift
/// static let table = SettingsTable(program: "totp-gateway", sections: [
///     .init("SERVER", [listen, instance, eventLoops]),
///     .init("CLIENTS", [tokens, rateLimit]),
/// ])
/// print(table.help())                               // one line per variable, with its default
/// table.unknownFileVariables(env, prefixes: ["GATEWAY_"])   // GATEWAY_LISTN_FILE: refused
/// ```
public struct SettingsTable: Sendable {
    /// A group of settings under one heading of `--help`, with an optional note after them.
    public struct Section: Sendable {
        public let title: String
        public let settings: [SettingInfo]
        public let note: String?

        public init(_ title: String, _ settings: [any AnySetting], note: String? = nil) {
            self.title = title
            self.settings = settings.map(\.info)
            self.note = note
        }
    }

    /// The program's name, for messages (`totp-gateway`).
    public let program: String
    public let sections: [Section]
    /// Names another program reads from the same environment file (one file may serve both
    /// programs): never refused as unknown.
    public let otherPrograms: Set<String>

    public init(program: String, sections: [Section], otherPrograms: Set<String> = []) {
        self.program = program
        self.sections = sections
        self.otherPrograms = otherPrograms
        let names = sections.flatMap(\.settings).map(\.name)
        precondition(Set(names).count == names.count, "\(program): a setting is declared twice")
    }

    /// Every row, in table order.
    public var all: [SettingInfo] { sections.flatMap(\.settings) }

    /// The row named `name` (or with it as an alias).
    public func setting(named name: String) -> SettingInfo? {
        all.first { $0.name == name || $0.aliases.contains(name) }
    }

    /// The variables that may be given as `NAME_FILE`, aliases included, in table order.
    public var fileVariables: [String] { all.filter { $0.fileVariant }.flatMap(\.names) }

    /// The variables that are paths already (and so have no `_FILE` variant), in table order.
    public var pathVariables: [String] { all.filter { $0.kind == .path }.map(\.name) }

    /// Whether `name` is a variable this program reads (directly, as `NAME_FILE`, or as a member
    /// of a family), or one another program reads from the same file.
    public func knows(_ name: String) -> Bool {
        if otherPrograms.contains(name) { return true }
        if all.contains(where: { $0.names.contains(name) }) { return true }
        if name.hasSuffix("_FILE"), fileVariables.contains(String(name.dropLast(5))) { return true }
        return all.contains { row in
            guard let prefix = row.familyPrefix, name.hasPrefix(prefix) else { return false }
            return !name.hasSuffix("_FILE") || row.fileVariant
        }
    }

    /// `*_FILE` variables with one of `prefixes` that this program would not read: refused,
    /// because a mistyped name (`GATEWAY_LISTN_FILE`) would otherwise be ignored in silence.
    public func unknownFileVariables(_ environment: Environment, prefixes: [String]) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        for name in environment.values.keys.sorted() where name.hasSuffix("_FILE") && prefixes.contains(where: name.hasPrefix) {
            if knows(name) { continue }
            let base = String(name.dropLast("_FILE".count))
            let hint = pathVariables.contains(base)
                ? "; \(base) is already a path, so it has no _FILE variant" : "; see \(program) --help for the variables"
            problems.append(ConfigProblem(source: name, message: "is not a \(program) variable and would be ignored\(hint)"))
        }
        return problems
    }

    /// The variables for `--help`: a heading per section, then one entry per variable (name,
    /// help, aliases and default), wrapped at `width` columns.
    public func help(width: Int = 100) -> String {
        let column = 31
        var lines: [String] = []
        for (index, section) in sections.enumerated() {
            if index > 0 { lines.append("") }
            lines.append(section.title)
            for row in section.settings {
                var text = row.help
                if !row.aliases.isEmpty { text += " (also \(row.aliases.joined(separator: ", ")))" }
                if !row.defaultText.isEmpty { text += " (default: \(row.defaultText))" }
                let head = "  " + row.name
                let indent = String(repeating: " ", count: column)
                // A name too long for the column stands on its own line.
                if head.count + 2 > column { lines.append(head) }
                let first = head.count + 2 <= column ? head + String(repeating: " ", count: column - head.count) : indent
                lines += Self.wrap(text, first: first, indent: indent, width: width)
            }
            if let note = section.note {
                lines += Self.wrap(note, first: "  ", indent: "  ", width: width)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `text` as a paragraph of lines of at most `width` columns, for the prose around the table.
    public static func paragraph(_ text: String, width: Int = 100) -> String {
        wrap(text, first: "", indent: "", width: width).joined(separator: "\n")
    }

    /// `text` in lines of at most `width` columns (a longer word stands alone), the first after
    /// `first`, the others after `indent`.
    static func wrap(_ text: String, first: String, indent: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = first
        var empty = true
        for word in text.split(separator: " ") {
            if !empty && line.count + 1 + word.count > width {
                lines.append(line)
                line = indent
                empty = true
            }
            line += (empty ? "" : " ") + word
            empty = false
        }
        lines.append(line)
        return lines
    }
}
