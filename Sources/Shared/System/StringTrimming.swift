/// Trimming without Foundation.
///
/// ```swift
/// " a b \n".trimmingCharacters(in: " \n")   // "a b"
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
}
