import Shared

/// The `/code` query: `label` (required, once) and `next` (`1/true/yes` or `0/false/no`).
/// Plain queries (no `%` or `+`) are split in place without building the full item list.
///
/// ```swift
/// CodeQuery(parsing: request).label   // "certus"
/// ```
struct CodeQuery {
    var label: String?
    var next = false
    var problem: String?

    init(parsing request: HTTPRequest) {
        guard let query = request.query, !query.isEmpty else { return }
        let needsDecoding = query.utf8.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }
        if needsDecoding {
            for (name, value) in request.queryItems() { take(name, value) }
        } else {
            for piece in query.utf8.split(separator: UInt8(ascii: "&")) {
                if let eq = piece.firstIndex(of: UInt8(ascii: "=")) {
                    take(Substring(piece[..<eq]), Substring(piece[piece.index(after: eq)...]))
                } else {
                    take(Substring(piece), "")
                }
            }
        }
    }

    private mutating func take<S: StringProtocol>(_ name: S, _ value: S) {
        guard problem == nil else { return }
        if name == "label" {
            if label != nil {
                problem = "give label= once"
                return
            }
            label = String(value)
        } else if name == "next" {
            switch value.lowercased() {
            case "1", "true", "yes": next = true
            case "0", "false", "no", "": next = false
            default: problem = "next= must be 1 or 0"
            }
        }
    }
}
