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

    public init(_ text: String) throws(Invalid) {
        // Labels are ASCII; lower-case bytewise (anything non-ASCII is refused below anyway).
        let bytes = text.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        guard !bytes.isEmpty else { throw Invalid(description: "the label is empty") }
        guard bytes.count <= 63 else {
            throw Invalid(description: "label '\(Self.printable(text))' is longer than 63 characters")
        }
        func isAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) }
        guard isAlnum(bytes[0]) else {
            throw Invalid(description: "label '\(Self.printable(text))' must start with a letter or digit")
        }
        for (i, c) in bytes.enumerated() where !(isAlnum(c) || c == 0x2E || c == 0x5F || c == 0x2D) {
            throw Invalid(description: "label '\(Self.printable(text))' has an invalid character at position \(i + 1) (allowed: a-z, 0-9, '.', '_', '-')")
        }
        self.value = bytes.elementsEqual(text.utf8) ? text : String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { value }

    public static func < (lhs: SeedLabel, rhs: SeedLabel) -> Bool { lhs.value < rhs.value }

    static func printable(_ s: String) -> String { OTPAuthURI.printable(s) }
}
