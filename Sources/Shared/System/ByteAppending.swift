/// Fast appends to byte buffers for hot paths (response bodies, audit lines, response heads).
/// `append(contentsOf: string.utf8)` goes through the generic sequence path, several hundred
/// instructions even for a short string; these copy contiguous UTF-8 with one `memcpy`.
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

    /// Appends a signed integer in decimal, without building a `String`.
    public mutating func append(decimal value: Int) {
        if value >= 0 && value < 10 {
            append(UInt8(truncatingIfNeeded: 0x30 + value))
            return
        }
        // 20 digits hold any Int64 magnitude; one more for the sign.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 21) { digits in
            var magnitude = value.magnitude
            var start = 21
            repeat {
                start -= 1
                digits[start] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                digits[start] = UInt8(ascii: "-")
            }
            append(contentsOf: UnsafeBufferPointer(rebasing: digits[start..<21]))
        }
    }

    /// Appends a 64-bit integer in decimal (unix times, `expires_at`).
    public mutating func append(decimal value: Int64) { append(decimal: Int(value)) }
}
