/// A seed's public name: `[a-z0-9][a-z0-9._-]{0,62}`, case-insensitive (stored lower-case).
///
/// ```swift
/// try SeedLabel("Client-Demo").value   // "client-demo"
/// ```
public struct SeedLabel: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: String

    /// Why a label was refused.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Refusals give a position and a length, never the text: when the separator after a label is
    /// mistyped, the "label" holds the seed.
    public init(_ text: String) throws(Invalid) {
        // A label already in canonical form (lower-case, allowed bytes) is taken as it is: one
        // pass, no copy (loading 30,000 labels spent a tenth of its time here).
        if Self.isCanonical(text.utf8) {
            self.value = text
            return
        }
        // Labels are ASCII; lower-case bytewise (anything non-ASCII is refused below anyway).
        let bytes = text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        guard !bytes.isEmpty else { throw Invalid(description: "the label is empty") }
        func isAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard isAlnum(bytes[0]) else {
            throw Invalid(description: "the label must start with a letter or digit (position 1 is neither)")
        }
        // Positions count characters, as an editor does, so a non-ASCII one is found where it is.
        for (i, c) in text.unicodeScalars.enumerated() {
            let lower = c.value >= 0x41 && c.value <= 0x5A ? c.value | 0x20 : c.value
            if lower < 0x80 && (isAlnum(UInt8(lower)) || lower == 0x2E || lower == 0x5F || lower == 0x2D) { continue }
            throw Invalid(description:
                "the label has an invalid character at position \(i + 1) of \(text.unicodeScalars.count) (allowed: a-z, 0-9, '.', '_', '-')")
        }
        guard bytes.count <= 63 else {
            throw Invalid(description: "the label is \(bytes.count) characters long; at most 63 are allowed")
        }
        self.value = bytes.elementsEqual(text.utf8) ? text : String(decoding: bytes, as: UTF8.self)
    }

    private static func isCanonical(_ bytes: String.UTF8View) -> Bool {
        guard let first = bytes.first, bytes.count <= 63, (first >= 0x61 && first <= 0x7A) || (first >= 0x30 && first <= 0x39) else {
            return false
        }
        return bytes.allSatisfy { c in (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x5F || c == 0x2D }
    }

    public var description: String { value }

    public static func < (lhs: SeedLabel, rhs: SeedLabel) -> Bool { lhs.value < rhs.value }
}
