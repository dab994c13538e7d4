/// A cursor over a byte buffer, for building a response head, a JSON body or an audit line with
/// plain `memcpy`s and then handing it to an array in one append. The caller sizes the buffer
/// with the count it expects; a write that does not fit never traps and never overruns: the
/// bytes so far move to a heap buffer twice as large and writing goes on there (`didGrow`), so a
/// size estimate that falls short (a new JSON field, a longer name) costs an allocation, not the
/// process.
///
/// ```swift
/// var out: [UInt8] = []
/// out.append(expectedCount: 64) { w in
///     w.write(static: "HTTP/1.1 200 OK\r\n")
///     w.write(decimal: 42)
/// }
/// let body = [UInt8](expectedCount: 32) { w in w.write(jsonString: "a\"b") }
/// ```
public struct ByteWriter: ~Copyable {
    // Inlinable (with the helpers below) so that each client module gets the writes and the
    // buffer setup specialised: called across modules, the generic array and temporary
    // allocation paths cost hundreds of instructions per response.
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var written = 0
    /// The heap buffer `base` points to once the writes outgrew the caller's; freed in `deinit`.
    @usableFromInline var grown: UnsafeMutablePointer<UInt8>? = nil
    /// Bytes written so far.
    public var count: Int { written }
    /// True once the writes outgrew the buffer the writer started with (the expected count was
    /// too small) and went on in a heap buffer.
    public var didGrow: Bool { grown != nil }
    /// The bytes written so far, valid until the next write.
    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: written) }

    @usableFromInline
    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) {
        base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: 1)!
        capacity = buffer.count
    }

    deinit { grown?.deallocate() }

    /// Makes room for `n` more bytes.
    @inlinable @inline(__always)
    mutating func reserve(_ n: Int) {
        if _slowPath(n > capacity &- written) { grow(toFit: n) }
    }

    /// Moves what was written to a heap buffer with room for `n` more bytes, at least doubling.
    @usableFromInline @inline(never)
    mutating func grow(toFit n: Int) {
        let newCapacity = max(2 * capacity, written + n, 64)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        buffer.initialize(from: base, count: written)
        grown?.deallocate()
        grown = buffer
        base = buffer
        capacity = newCapacity
    }

    @inlinable @inline(__always)
    mutating func copy(_ source: UnsafePointer<UInt8>?, _ n: Int) {
        reserve(n)
        if n > 0, let source { (base + written).update(from: source, count: n) }
        written += n
    }

    @inlinable @inline(__always)
    public mutating func write(byte: UInt8) {
        reserve(1)
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

    /// Lets `body` write up to `maxCount` bytes straight into the buffer, with one size check
    /// for all of them; `body` returns how many it wrote. For fixed-shape output on a hot path
    /// (a timestamp), where checking each byte would cost more than the bytes.
    @inlinable @inline(__always)
    public mutating func write(atMost maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        reserve(maxCount)
        let count = body(base + written)
        assert(count >= 0 && count <= maxCount, "ByteWriter.write(atMost:): wrote \(count) of at most \(maxCount) bytes")
        written += count
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
        reserve(digits + (value < 0 ? 1 : 0))
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

    /// `value` as a quoted JSON string (`JSONText.maxQuotedCount(value)` bytes at most).
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
    /// Writes into a scratch buffer of `expectedCount` bytes (on the stack when small; the heap
    /// if the writes outgrow it) and hands the bytes to `consume`, e.g. to append them under a
    /// lock taken only for the copy.
    @inlinable
    public static func withBytes<R>(
        expectedCount: Int, _ body: (inout ByteWriter) -> Void, consume: (UnsafeBufferPointer<UInt8>) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: expectedCount) { scratch in
            var writer = ByteWriter(scratch)
            body(&writer)
            return consume(writer.bytes)
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends what `body` writes (`expectedCount` bytes expected; more costs an allocation).
    @inlinable
    public mutating func append(expectedCount: Int, _ body: (inout ByteWriter) -> Void) {
        ByteWriter.withBytes(expectedCount: expectedCount, body) { append(contentsOf: $0) }
    }

    /// A new array holding what `body` writes, with no extra copy when it fits in
    /// `expectedCount` bytes (and one when it does not).
    @inlinable
    public init(expectedCount: Int, _ body: (inout ByteWriter) -> Void) {
        var outgrown: [UInt8]? = nil
        self.init(unsafeUninitializedCapacity: expectedCount) { buffer, initialized in
            var writer = ByteWriter(buffer)
            body(&writer)
            if writer.didGrow {
                outgrown = Array(writer.bytes)
                initialized = 0
            } else {
                initialized = writer.count
            }
        }
        if let outgrown { self = outgrown }
    }
}
