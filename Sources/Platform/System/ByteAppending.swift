/// Appends to byte buffers without the generic sequence path of `append(contentsOf: s.utf8)`
/// (several hundred instructions even for a short string): contiguous UTF-8 in one `memcpy`.
/// For a run of appends on a hot path, `ByteWriter` is cheaper still (one append in all).
///
/// ```swift
/// var out: [UInt8] = []
/// out.append(static: "\"code\":")
/// out.append(utf8: "123456")
/// out.append(decimal: 1_795_603_050)
/// ```
extension Array where Element == UInt8 {
    /// Appends a literal's UTF-8 bytes.
    @inlinable @inline(__always)
    public mutating func append(static literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a string's UTF-8 bytes (small strings are copied from the stack, native ones
    /// from their storage).
    @inlinable @inline(__always)
    public mutating func append(utf8 string: String) {
        var string = string
        string.withUTF8 { append(contentsOf: $0) }
    }

    /// Appends a signed integer in decimal, without building a `String` (`ByteWriter`'s digits).
    public mutating func append(decimal value: Int) {
        append(expectedCount: 21) { $0.write(decimal: value) }
    }
}
