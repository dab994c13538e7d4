/// Trimming without Foundation.
///
/// ```swift
/// " a b \n".trimmingCharacters(in: " \n")   // "a b"
/// "\t label = seed \r\n".trimmingSpaces()    // "label = seed"
/// ```
extension StringProtocol {
    public func trimmingCharacters(in set: String) -> String {
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
