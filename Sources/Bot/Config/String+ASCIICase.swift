/// Case folding for identifiers such as email addresses: `A`-`Z` only. Swift's `lowercased()`
/// applies Unicode case mapping, which turns U+212A KELVIN SIGN into `k`, so
/// "\u{212A}ate@example.com" would pass for "kate@example.com"; here it stays itself.
///
/// ```swift
/// "Kate@Example.COM".asciiLowercased        // "kate@example.com"
/// "\u{212A}ate@example.com".asciiLowercased // unchanged
/// ```
extension String {
    var asciiLowercased: String {
        String(decoding: utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
