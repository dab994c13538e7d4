import TOTP
import Platform
import TextSupport

/// The plain seeds file: one `label = base32-or-otpauth-uri [check=CODE@UNIXTIME]` per line,
/// `#` starts a comment line, blank lines are ignored.
///
/// ```swift
/// let lines = try SeedsFile.parse("# demo\ncertus = JBSWY3DPEHPK3PXP\n", path: "seeds")
/// lines[0].label   // "certus"
/// ```
public enum SeedsFile {
    /// One definition: the label, the seed text (never printed), and its line number.
    public struct Line: Sendable {
        public let label: String
        let value: String
        public let line: Int
    }

    /// Splits a file into definitions; throws every syntax problem at once.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> [Line] {
        let (lines, problems) = parseCollecting(text, path: path)
        if !problems.isEmpty { throw ConfigError(problems) }
        return lines
    }

    /// The well-formed definitions and the syntax problems of the others, so a loader can check
    /// the good lines' seeds too and report every problem of the file in one run.
    public static func parseCollecting(_ text: String, path: String) -> (lines: [Line], problems: [ConfigProblem]) {
        var lines: [Line] = []
        var problems: [ConfigProblem] = []
        var number = 0
        // Scanned as UTF-8 bytes: '\n', '=', space and tab never occur inside a multi-byte
        // character, so every cut falls between characters. (Splitting the String by Character
        // cost more than the rest of a 30,000-line load; it also kept "\r\n", one Character,
        // from ending a line, so a file saved with CRLF line ends now reads as its lines.)
        let bytes = text.utf8
        var rest = bytes[...]
        while !rest.isEmpty || number == 0 {
            number += 1
            let newline = rest.firstIndex(of: 0x0A)
            let line = trimmed(rest[..<(newline ?? rest.endIndex)])
            rest = newline.map { rest[bytes.index(after: $0)...] } ?? rest[rest.endIndex...]
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else {
                problems.append(ConfigProblem(source: "\(path):\(number)", message: "expected 'label = seed', found no '='"))
                continue
            }
            let labelText = String(Substring(trimmed(line[..<eq])))
            let value = String(Substring(trimmed(line[bytes.index(after: eq)...])))
            do {
                let label = try SeedLabel(labelText)
                lines.append(Line(label: label.value, value: value, line: number))
            } catch {
                let hint = labelText.contains(" ") || labelText.contains("\t") ? "; a line is 'label = seed'" : ""
                problems.append(ConfigProblem(source: "\(path):\(number)", message: error.description + hint))
            }
        }
        return (lines, problems)
    }

    /// `text` without spaces and tabs at either end, nor line ends at its end (as `trimmingSpaces`).
    private static func trimmed(_ text: Substring.UTF8View) -> Substring.UTF8View {
        var s = text
        while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 || l == 0x0D || l == 0x0A { s = s.dropLast() }
        return s
    }
}
