import HTTPServer

/// The `/code` query: `label` (required, once) and `next` (`1/true/yes` or `0/false/no`).
/// Plain queries (no `%` or `+`) are scanned as bytes in place; others are decoded first.
///
/// ```swift
/// CodeQuery(parsing: request).label   // "certus"
/// ```
struct CodeQuery {
    var label: String?
    var next = false
    var problem: String?

    init(parsing request: HTTPRequest) {
        guard var query = request.query, !query.isEmpty else { return }
        let decoded: Bool = query.withUTF8 { bytes in
            if bytes.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return false }
            var start = 0
            while start <= bytes.count {
                var end = start
                while end < bytes.count && bytes[end] != UInt8(ascii: "&") { end += 1 }
                if end > start {
                    let piece = UnsafeBufferPointer(rebasing: bytes[start..<end])
                    let eq = piece.firstIndex(of: UInt8(ascii: "=")) ?? piece.endIndex
                    let value = eq < piece.endIndex ? UnsafeBufferPointer(rebasing: piece[(eq + 1)...]) : UnsafeBufferPointer(rebasing: piece[eq...])
                    take(UnsafeBufferPointer(rebasing: piece[..<eq]), value)
                }
                start = end + 1
            }
            return true
        }
        if !decoded {
            for (name, value) in request.queryItems() {
                var name = name
                var value = value
                name.withUTF8 { n in value.withUTF8 { v in take(n, v) } }
            }
        }
    }

    private static let labelName: StaticString = "label"
    private static let nextName: StaticString = "next"

    private mutating func take(_ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        guard problem == nil else { return }
        if Self.equals(name, Self.labelName) {
            if label != nil {
                problem = "give label= once"
                return
            }
            label = String(decoding: value, as: UTF8.self)
        } else if Self.equals(name, Self.nextName) {
            switch String(decoding: value, as: UTF8.self).lowercased() {
            case "1", "true", "yes": next = true
            case "0", "false", "no", "": next = false
            default: problem = "next= must be 1 or 0"
            }
        }
    }

    private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        bytes.count == literal.utf8CodeUnitCount
            && bytes.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
