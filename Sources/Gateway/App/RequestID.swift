import Crypto
import Synchronization

/// Request ids: an incoming `X-Request-ID` is kept when it is 1-128 safe characters, else a new
/// one is made from a random per-process prefix and a counter (cheap, unique, unguessable prefix).
///
/// ```swift
/// let ids = RequestIDs()
/// ids.resolve(incoming: nil)   // "3f9a1c0b7e2d-1"
/// ```
final class RequestIDs: Sendable {
    /// The random part and its `-`, as bytes.
    private let prefix: [UInt8] = Array((Crypto.hex(Crypto.randomBytes(6)) + "-").utf8)
    private let counter = Atomic<UInt64>(0)

    func resolve(incoming: String?) -> String {
        if let incoming, Self.isSafe(incoming) { return incoming }
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        var id = prefix
        id.append(decimal: Int(truncatingIfNeeded: n & 0x7FFF_FFFF_FFFF_FFFF))
        return String(decoding: id, as: UTF8.self)
    }

    static func isSafe(_ s: String) -> Bool {
        let u = s.utf8
        guard !u.isEmpty, u.count <= 128 else { return false }
        return u.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E || c == 0x3A
        }
    }
}
