/// The keys a read, delete or watch covers: one key, every key under a prefix, or the half-open
/// interval `[from, to)` in byte order. etcd spells these as `key` plus `range_end`.
///
/// ```swift
/// try client.range(.prefix("/totp-bot/claims/"))
/// try client.deleteRange(.interval(from: "/totp-bot/claims/", to: "/totp-bot/claims/00000000000000000100"))
/// ```
public struct EtcdKeyRange: Sendable, Equatable {
    public var key: [UInt8]
    /// nil for a single key.
    public var rangeEnd: [UInt8]?

    public init(key: [UInt8], rangeEnd: [UInt8]?) {
        self.key = key
        self.rangeEnd = rangeEnd
    }

    public static func key(_ key: String) -> EtcdKeyRange {
        EtcdKeyRange(key: Array(key.utf8), rangeEnd: nil)
    }

    public static func prefix(_ prefix: String) -> EtcdKeyRange {
        let bytes = Array(prefix.utf8)
        return EtcdKeyRange(key: bytes, rangeEnd: prefixEnd(bytes))
    }

    /// `[from, to)`: `to` itself is excluded.
    public static func interval(from: String, to: String) -> EtcdKeyRange {
        EtcdKeyRange(key: Array(from.utf8), rangeEnd: Array(to.utf8))
    }

    /// The first key after every key starting with `prefix`: the prefix with its last byte below
    /// 0xff incremented. An empty or all-0xff prefix covers every key (`[0]` means "to the end").
    static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
