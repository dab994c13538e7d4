import Foundation
import Platform

/// Holds a program's settings table to the README's configuration tables: every variable in
/// one is in the other, and the default column says what the table says. The README stays
/// hand-written (its meaning column says more than `--help` can); this keeps it true.
///
/// ```swift
/// let problems = ReadmeSettings.mismatches(GatewaySettings.table, sections: ["## Gateway configuration", "### Seeds"])
/// XCTAssertEqual(problems, [])
/// ```
public enum ReadmeSettings {
    /// One row of a README table: the variable names in its first cell, and its default cell.
    public struct Row: Equatable {
        public let names: [String]
        public let defaultCell: String?
    }

    /// The repository's README.md.
    public static var readme: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }

    /// The rows of the first table after the heading line `heading` (nil: no such table).
    public static func rows(after heading: String, in text: String = readme) -> [Row]? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: heading) else { return nil }
        var index = start + 1
        while index < lines.count, !lines[index].hasPrefix("|") {
            if lines[index].hasPrefix("#") { return nil }
            index += 1
        }
        var table: [[String]] = []
        while index < lines.count, lines[index].hasPrefix("|") {
            table.append(cells(lines[index]))
            index += 1
        }
        guard table.count >= 2 else { return nil }
        let header = table[0].map { $0.lowercased() }
        let defaultColumn = header.firstIndex(of: "default")
        return table.dropFirst(2).map { cells in
            Row(names: names(in: cells.first ?? ""), defaultCell: defaultColumn.flatMap { $0 < cells.count ? plain(cells[$0]) : nil })
        }
    }

    /// What disagrees between `table` and the README tables after `headings`, one line each.
    public static func mismatches(_ table: SettingsTable, headings: [String], in text: String = readme) -> [String] {
        var problems: [String] = []
        var documented = Set<String>()
        for heading in headings {
            guard let rows = rows(after: heading, in: text) else {
                problems.append("README: no table after \(heading)")
                continue
            }
            for row in rows {
                var primary: SettingInfo? = nil
                for name in row.names {
                    documented.insert(name)
                    if let info = table.all.first(where: { $0.name == name }) {
                        if primary == nil { primary = info }
                    } else if table.all.contains(where: { $0.aliases.contains(name) }) {
                        continue
                    } else if name.hasSuffix("_FILE"), table.fileVariables.contains(String(name.dropLast(5))) {
                        continue
                    } else if !name.hasPrefix("-") {
                        problems.append("README documents \(name), which the \(table.program) settings table does not have")
                    }
                }
                if let primary, let cell = row.defaultCell, !agrees(cell, primary.defaultText) {
                    problems.append("\(primary.name): README default '\(cell)', settings table '\(primary.defaultText)'")
                }
            }
        }
        for info in table.all {
            for name in [info.name] + info.aliases where !documented.contains(name) {
                problems.append("\(name) is in the \(table.program) settings table but not in the README")
            }
        }
        return problems
    }

    /// The README's default starts with the table's (then says more), or both are empty.
    static func agrees(_ cell: String, _ expected: String) -> Bool {
        if expected.isEmpty { return cell.isEmpty }
        guard cell.hasPrefix(expected) else { return false }
        guard let next = cell.dropFirst(expected.count).first else { return true }
        return !(next.isLetter || next.isNumber || next == "." || next == "/")
    }

    /// The cells of a table line; `\|` is a pipe inside a cell.
    static func cells(_ line: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var escaped = false
        for character in line.dropFirst() {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
                current.append(character)
            } else if character == "|" {
                cells.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        return cells
    }

    /// The variable names quoted in a cell: `NAME`, `$NAME`, `PREFIX_<PLACEHOLDER>`; flags
    /// (`--zuliprc PATH`) are returned as they are, starting with `-`.
    static func names(in cell: String) -> [String] {
        let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
        var out: [String] = []
        for (index, part) in parts.enumerated() where index % 2 == 1 {
            var token = String(part)
            if token.hasPrefix("$") { token.removeFirst() }
            if token.hasPrefix("-") {
                out.append(token)
            } else if let first = token.first, first.isUppercase,
                token.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" || $0 == "<" || $0 == ">" }) {
                out.append(token)
            }
        }
        return out
    }

    /// A cell without backticks and escapes, trimmed.
    static func plain(_ cell: String) -> String {
        cell.replacingOccurrences(of: "`", with: "").replacingOccurrences(of: "\\|", with: "|").trimmingCharacters(in: .whitespaces)
    }
}
