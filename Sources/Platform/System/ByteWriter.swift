/// A cursor over a fixed-size byte buffer, for building a response head, a JSON body or an
/// audit line with plain `memcpy`s and then handing it to an array in one append. Every write
/// checks the remaining room and traps on overflow, so a wrong size bound is a crash in tests,
/// never a memory error.
///
/// ```swift
/// var out: [UInt8] = []
/// out.append(writingAtMost: 64) { w in
///     w.write(static: "HTTP/1.1 200 OK\r\n")
///     w.write(decimal: 42)
/// }
/// let body = [UInt8](writingAtMost: 32) { w in w.write(jsonString: "a\"b") }
/// ```
public struct ByteWriter: ~Copyable {
    // Inlinable (with the helpers below) so that each client module gets the writes and the
    // buffer setup specialised: called across modules, the generic array and temporary
    // allocation paths cost hundreds of instructions per response.
    @usableFromInline let base: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    @usableFromInline var written = 0
    /// Bytes written so far.
    public var count: Int { written }

    @usableFromInline
    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: 1)!
        capacity = buffer.count
    }

    @inlinable @inline(__always)
    mutating func copy(_ source: UnsafePointer<UInt8>?, _ n: Int) {
        precondition(n <= capacity - written, "ByteWriter: size bound too small")
        if n > 0, let source { (base + written).update(from: source, count: n) }
        written += n
    }

    @inlinable @inline(__always)
    public mutating func write(byte: UInt8) {
        precondition(written < capacity, "ByteWriter: size bound too small")
        base[written] = byte
        written += 1
    }

    @inlinable @inline(__always)
    public mutating func write(static literal: StaticString) {
        copy(literal.utf8Start, literal.utf8CodeUnitCount)
    }

    @inlinable @inline(__always)
    public mutating func write(utf8 string: String) {
        var string = string
        string.withUTF8 { copy($0.baseAddress, $0.count) }
    }

    @inlinable @inline(__always)
    public mutating func write(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { copy($0.baseAddress, $0.count) }
    }

    /// A signed integer in decimal (at most 20 bytes).
    public mutating func write(decimal value: Int) {
        var magnitude = value.magnitude
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits += 1
        }
        precondition(digits + (value < 0 ? 1 : 0) <= capacity - written, "ByteWriter: size bound too small")
        if value < 0 { write(byte: UInt8(ascii: "-")) }
        var at = written + digits
        written = at
        repeat {
            at -= 1
            base[at] = UInt8(truncatingIfNeeded: 0x30 + magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
    }

    public mutating func write(decimal value: Int64) { write(decimal: Int(value)) }

    /// `value` as a quoted JSON string. Needs up to `JSONText.maxQuotedCount(value)` bytes.
    public mutating func write(jsonString value: String) {
        var value = value
        let copied = value.withUTF8 { bytes -> Bool in
            guard JSONText.needsNoEscaping(bytes) else { return false }
            write(byte: 0x22)
            copy(bytes.baseAddress, bytes.count)
            write(byte: 0x22)
            return true
        }
        if !copied { write(utf8: JSONText.quoted(value)) }
    }
}

extension ByteWriter {
    /// Writes at most `maxCount` bytes into a scratch buffer (on the stack when small) and
    /// hands them to `consume`, e.g. to append them under a lock taken only for the copy.
    @inlinable
    public static func withBytes<R>(
        writingAtMost maxCount: Int, _ body: (inout ByteWriter) -> Void, consume: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxCount) { scratch in
            var writer = ByteWriter(scratch)
            body(&writer)
            return consume(UnsafeBufferPointer(rebasing: scratch[..<writer.count]))
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends what `body` writes, at most `maxCount` bytes (a stack scratch buffer when small).
    @inlinable
    public mutating func append(writingAtMost maxCount: Int, _ body: (inout ByteWriter) -> Void) {
        ByteWriter.withBytes(writingAtMost: maxCount, body) { append(contentsOf: $0) }
    }

    /// A new array holding what `body` writes, at most `maxCount` bytes, with no extra copy.
    @inlinable
    public init(writingAtMost maxCount: Int, _ body: (inout ByteWriter) -> Void) {
        self.init(unsafeUninitializedCapacity: maxCount) { buffer, initialized in
            var writer = ByteWriter(buffer)
            body(&writer)
            initialized = writer.count
        }
    }
}
