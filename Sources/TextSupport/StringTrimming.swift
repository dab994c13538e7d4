/// Trimming without Foundation.
///
/// ```swift
/// " a b \n".trimmingCharacters(in: " \n")   // "a b"
/// "\t label = seed \r\n".trimmingSpaces()    // "label = seed"
/// ```
extension StringProtocol {
    public func trimmingCharacters(in set: String) -> String {
        // ASCII sets (all callers') trim bytes: an ASCII byte is always a whole character, and
        // grapheme breaking made trimming a large part of loading thousands of tokens.
        if set.utf8.allSatisfy({ $0 < 0x80 }) {
            var mask: (low: UInt64, high: UInt64) = (0, 0)
            for c in set.utf8 {
                if c < 64 { mask.low |= 1 << UInt64(c) } else { mask.high |= 1 << UInt64(c - 64) }
            }
            let trims = { (c: UInt8) -> Bool in c < 64 ? mask.low & (1 << UInt64(c)) != 0 : c < 128 && mask.high & (1 << UInt64(c - 64)) != 0 }
            var s = Substring(self)
            return s.withUTF8 { b in
                var start = 0
                var end = b.count
                while start < end && trims(b[start]) { start += 1 }
                while end > start && trims(b[end - 1]) { end -= 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
            }
        }
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension String {
    /// The pieces between `separator` bytes, empty ones kept (`split(omittingEmptySubsequences:
    /// false)`). `separator` must be ASCII, so every cut falls between characters.
    ///
    /// ```swift
    /// "bot:s3cret:*".splitting(byte: UInt8(ascii: ":"))   // ["bot", "s3cret", "*"]
    /// ```
    public func splitting(byte separator: UInt8) -> [String] {
        precondition(separator < 0x80, "splitting(byte:) cuts at an ASCII byte only")
        var s = self
        return s.withUTF8 { b in
            var parts: [String] = []
            var start = 0
            for i in 0..<b.count where b[i] == separator {
                parts.append(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self))
                start = i + 1
            }
            parts.append(String(decoding: UnsafeBufferPointer(rebasing: b[start...]), as: UTF8.self))
            return parts
        }
    }

    /// `nil` for the empty string, else the string (for optional config and header values).
    public var nilIfEmpty: String? { isEmpty ? nil : self }

    /// Drops leading spaces and tabs, and trailing spaces, tabs and line ends (a pasted line).
    public func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\r" || s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
