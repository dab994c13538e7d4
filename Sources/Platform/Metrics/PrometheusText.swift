/// Formatting rules of the Prometheus text exposition format 0.0.4: name validation,
/// escaping and number formatting, shared by every metric family.
///
/// ```swift
/// PrometheusText.format(0.25)            // "0.25"
/// PrometheusText.format(.infinity)       // "+Inf"
/// PrometheusText.escapeLabelValue("a\"b") // "a\\\"b"
/// ```
enum PrometheusText {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ name: String) -> Bool {
        var first = true
        for byte in name.utf8 {
            let ok = isLetter(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
                || (!first && isDigit(byte))
            if !ok { return false }
            first = false
        }
        return !first
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, and not starting with `__` (reserved for Prometheus itself).
    static func isValidLabelName(_ name: String) -> Bool {
        if name.hasPrefix("__") { return false }
        var first = true
        for byte in name.utf8 {
            let ok = isLetter(byte) || byte == UInt8(ascii: "_") || (!first && isDigit(byte))
            if !ok { return false }
            first = false
        }
        return !first
    }

    /// HELP text escapes only backslash and newline.
    static func escapeHelp(_ text: String) -> String { escape(text, quotes: false) }

    /// Label values escape backslash, double quote and newline.
    static func escapeLabelValue(_ text: String) -> String { escape(text, quotes: true) }

    /// The exposition format's one escaping rule, with or without the double quote.
    private static func escape(_ text: String, quotes: Bool) -> String {
        guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x0A || (quotes && $0 == 0x22) }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Integral values below 2^53 print without a fraction (`3`, not `3.0`) so counters read
    /// naturally; everything else uses Swift's shortest round-tripping form (`0.1`, `1e-05`,
    /// `1.5e+20`), which Prometheus' Go `ParseFloat` accepts.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value == value.rounded(.towardZero) && abs(value) < 9_007_199_254_740_992 {
            return String(Int64(value))
        }
        return value.description
    }

    /// `{a="x",b="y"}` for the given names and values, plus an optional trailing pair
    /// (the histogram `le`); empty string when there is nothing to print.
    static func labelSet(names: [String], values: [String], extra: (String, String)? = nil) -> String {
        if names.isEmpty && extra == nil { return "" }
        var out = "{"
        for index in names.indices {
            if index > 0 { out += "," }
            out += names[index]
            out += "=\""
            out += escapeLabelValue(values[index])
            out += "\""
        }
        if let (name, value) = extra {
            if !names.isEmpty { out += "," }
            out += name
            out += "=\""
            out += escapeLabelValue(value)
            out += "\""
        }
        out += "}"
        return out
    }

    /// Appends `name{labels} value\n`.
    static func appendSample(_ out: inout String, name: String, labels: String, value: Double) {
        out += name
        out += labels
        out += " "
        out += format(value)
        out += "\n"
    }

    /// Series order: lexicographic by label values, in label-name order.
    static func seriesOrder(_ a: [String], _ b: [String]) -> Bool {
        a.lexicographicallyPrecedes(b)
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
