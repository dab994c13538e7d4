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
            var s = Substring(self).utf8
            while let f = s.first, set.utf8.contains(f) { s = s.dropFirst() }
            while let l = s.last, set.utf8.contains(l) { s = s.dropLast() }
            return String(Substring(s))
        }
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

extension String {
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
