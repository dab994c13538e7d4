/// Request header fields in arrival order. Lookup is ASCII case-insensitive; values are already
/// trimmed of surrounding whitespace by the parser.
///
/// Fields from the parser stay as bytes (one copy of the header block and the positions of
/// each name and value) until asked for: a handler usually reads two or three of the fields a
/// request carries, so strings are built only for those.
///
/// ```swift
/// var headers = HTTPHeaders()
/// headers.add(name: "Host", value: "example.org")
/// headers["host"]          // "example.org"
/// headers.values("HOST")   // ["example.org"]
/// ```
public struct HTTPHeaders: Sendable, Sequence, Equatable {
    public typealias Field = (name: String, value: String)

    /// Where one field's name and value lie in `Storage.raw`'s bytes.
    struct Span: Sendable {
        var nameStart: Int32
        var nameEnd: Int32
        var valueStart: Int32
        var valueEnd: Int32
    }

    /// Parsed bytes with spans, or fields built (or added) as strings.
    private enum Storage: Sendable {
        case raw(bytes: [UInt8], spans: [Span])
        case fields([Field])
    }

    private var storage: Storage

    public init() { storage = .fields([]) }

    public init(_ fields: [(String, String)]) {
        storage = .fields(fields.map { (name: $0.0, value: $0.1) })
    }

    init(fields: [Field]) { storage = .fields(fields) }

    /// Fields as positions in `bytes` (the parser's header block); names must be ASCII tokens.
    init(bytes: [UInt8], spans: [Span]) { storage = .raw(bytes: bytes, spans: spans) }

    /// The fields as received, in order (names keep their original case).
    public var fields: [Field] {
        switch storage {
        case .fields(let fields):
            return fields
        case .raw(let bytes, let spans):
            return bytes.withUnsafeBufferPointer { b in
                spans.map { (name: Self.string(b, $0.nameStart, $0.nameEnd), value: Self.string(b, $0.valueStart, $0.valueEnd)) }
            }
        }
    }

    /// Appends a field; repeated names are kept as separate fields.
    public mutating func add(name: String, value: String) {
        var all = fields
        all.append((name: name, value: value))
        storage = .fields(all)
    }

    /// The first value of `name` (case-insensitive), or `nil`.
    public subscript(name: String) -> String? {
        switch storage {
        case .fields(let fields):
            for field in fields where HTTPHeaders.sameName(field.name, name) { return field.value }
            return nil
        case .raw(let bytes, let spans):
            var name = name
            return name.withUTF8 { wanted in
                bytes.withUnsafeBufferPointer { b in
                    for span in spans where Self.nameMatches(b, span, wanted) {
                        return Self.string(b, span.valueStart, span.valueEnd)
                    }
                    return nil
                }
            }
        }
    }

    /// Every value of `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        switch storage {
        case .fields(let fields):
            return fields.compactMap { HTTPHeaders.sameName($0.name, name) ? $0.value : nil }
        case .raw(let bytes, let spans):
            var name = name
            return name.withUTF8 { wanted in
                bytes.withUnsafeBufferPointer { b in
                    spans.compactMap { Self.nameMatches(b, $0, wanted) ? Self.string(b, $0.valueStart, $0.valueEnd) : nil }
                }
            }
        }
    }

    public var count: Int {
        switch storage {
        case .fields(let fields): fields.count
        case .raw(_, let spans): spans.count
        }
    }

    public var isEmpty: Bool { count == 0 }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        let (l, r) = (lhs.fields, rhs.fields)
        return l.count == r.count && zip(l, r).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison of two header names, without allocating. Lengths are
    /// compared first (O(1) for both small and native strings), so most misses cost nothing.
    public static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a
        var b = b
        return a.withUTF8 { x in b.withUTF8 { y in sameName(x, y) } }
    }

    @inline(__always)
    static func sameName(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        guard x.count == y.count else { return false }
        for i in 0..<x.count where x[i] != y[i] && asciiLower(x[i]) != asciiLower(y[i]) { return false }
        return true
    }

    @inline(__always)
    private static func nameMatches(_ bytes: UnsafeBufferPointer<UInt8>, _ span: Span, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(span.nameStart)
        let end = Int(span.nameEnd)
        guard end - start == wanted.count else { return false }
        return sameName(UnsafeBufferPointer(rebasing: bytes[start..<end]), wanted)
    }

    @inline(__always)
    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int32, _ end: Int32) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[Int(start)..<Int(end)]), as: UTF8.self)
    }

    @inline(__always)
    static func asciiLower(_ c: UInt8) -> UInt8 {
        (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
    }
}
