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
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let line = String(raw).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else {
                problems.append(ConfigProblem(source: "\(path):\(number)", message: "expected 'label = seed', found no '='"))
                continue
            }
            let labelText = String(line[..<eq]).trimmingSpaces()
            let value = String(line[line.index(after: eq)...]).trimmingSpaces()
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
}
