/// Request header fields in arrival order. Lookup is ASCII case-insensitive and allocates
/// nothing; values are already trimmed of surrounding whitespace by the parser.
///
/// ```swift
/// var headers = HTTPHeaders()
/// headers.add(name: "Host", value: "example.org")
/// headers["host"]          // "example.org"
/// headers.values("HOST")   // ["example.org"]
/// ```
public struct HTTPHeaders: Sendable, Sequence, Equatable {
    public typealias Field = (name: String, value: String)

    /// The fields as received, in order (names keep their original case).
    public private(set) var fields: [Field]

    public init() { fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    init(fields: [Field]) { self.fields = fields }

    /// Appends a field; repeated names are kept as separate fields.
    public mutating func add(name: String, value: String) {
        fields.append((name: name, value: value))
    }

    /// The first value of `name` (case-insensitive), or `nil`.
    public subscript(name: String) -> String? {
        for field in fields where HTTPHeaders.sameName(field.name, name) { return field.value }
        return nil
    }

    /// Every value of `name` (case-insensitive), in order.
    public func values(_ name: String) -> [String] {
        fields.compactMap { HTTPHeaders.sameName($0.name, name) ? $0.value : nil }
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison of two header names, without allocating. Lengths are
    /// compared first (O(1) for both small and native strings), so most misses cost nothing.
    public static func sameName(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                for i in 0..<x.count where x[i] != y[i] && asciiLower(x[i]) != asciiLower(y[i]) { return false }
                return true
            }
        }
    }

    @inline(__always)
    static func asciiLower(_ c: UInt8) -> UInt8 {
        (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c
    }
}
