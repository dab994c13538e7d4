/// Minimal JSON text helpers for hot paths that must not go through `JSONEncoder`
/// (log lines, HTTP responses).
///
/// ```swift
/// var out = ""
/// JSONText.appendString("a\"b", to: &out)   // out == "\"a\\\"b\""
/// ```
public enum JSONText {
    /// True when `value` can be copied between quotes as is (the common case: labels, names).
    @inline(__always)
    static func needsNoEscaping(_ value: String) -> Bool {
        var value = value
        return value.withUTF8 { needsNoEscaping($0) }
    }

    /// The same over UTF-8 bytes. 0xE2 is the lead byte of U+2028/U+2029, which the slow path
    /// escapes (JavaScript consumers choke on them).
    @inline(__always)
    static func needsNoEscaping(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in bytes where b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || b == 0xE2 { return false }
        return true
    }

    /// An upper bound on the bytes `appendString` writes for `value` (every byte escaped as
    /// `\u00XX`, plus the quotes).
    public static func maxQuotedCount(_ value: String) -> Int { 6 * value.utf8.count + 2 }

    /// Appends `value` as a quoted, escaped JSON string.
    public static func appendString(_ value: String, to out: inout String) {
        // Fast path: nothing to escape (0xE2 is the lead byte of U+2028/U+2029, checked slowly).
        if needsNoEscaping(value) {
            out.append("\"")
            out.append(value)
            out.append("\"")
            return
        }
        out.append("\"")
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out.append("\\u")
                out.append(String(repeating: "0", count: 4 - hex.count))
                out.append(hex)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out.append("\"")
    }

    /// Appends `value` as a quoted, escaped JSON string to a byte buffer. One pass over the
    /// bytes in the common case (nothing to escape).
    public static func appendString(_ value: String, to out: inout [UInt8]) {
        var value = value
        let copied = value.withUTF8 { bytes -> Bool in
            guard needsNoEscaping(bytes) else { return false }
            out.append(0x22)
            out.append(contentsOf: bytes)
            out.append(0x22)
            return true
        }
        if copied { return }
        var s = ""
        appendString(value, to: &s)
        out.append(utf8: s)
    }

    /// Returns `value` as a quoted, escaped JSON string.
    public static func quoted(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count + 2)
        appendString(value, to: &out)
        return out
    }
}
