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
        var text = text
        text.withUTF8 { bytes in
            var lineStart = 0
            while lineStart < bytes.count || number == 0 {
                number += 1
                var lineEnd = lineStart
                while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
                let next = lineEnd + 1
                defer { lineStart = next }
                let (start, end) = trimmed(bytes, lineStart, lineEnd)
                if start == end || bytes[start] == UInt8(ascii: "#") { continue }
                var eq = start
                while eq < end && bytes[eq] != UInt8(ascii: "=") { eq += 1 }
                guard eq < end else {
                    problems.append(ConfigProblem(source: "\(path):\(number)", message: "expected 'label = seed', found no '='"))
                    continue
                }
                let (labelStart, labelEnd) = trimmed(bytes, start, eq)
                let (valueStart, valueEnd) = trimmed(bytes, eq + 1, end)
                let labelText = String(decoding: UnsafeBufferPointer(rebasing: bytes[labelStart..<labelEnd]), as: UTF8.self)
                let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
                do throws(SeedLabel.Invalid) {
                    let label = try SeedLabel(labelText)
                    lines.append(Line(label: label.value, value: value, line: number))
                } catch {
                    let hint = labelText.contains(" ") || labelText.contains("\t") ? "; a line is 'label = seed'" : ""
                    problems.append(ConfigProblem(source: "\(path):\(number)", message: error.description + hint))
                }
            }
        }
        return (lines, problems)
    }

    /// The bounds of `bytes[start..<end]` without spaces and tabs at either end, nor line ends
    /// at its end (as `trimmingSpaces`).
    private static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start
        var e = end
        while s < e && (bytes[s] == 0x20 || bytes[s] == 0x09) { s += 1 }
        while e > s && (bytes[e - 1] == 0x20 || bytes[e - 1] == 0x09 || bytes[e - 1] == 0x0D || bytes[e - 1] == 0x0A) { e -= 1 }
        return (s, e)
    }
}
