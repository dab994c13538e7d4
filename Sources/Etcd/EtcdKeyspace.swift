/// The keys the bot keeps under its prefix: the leader key, the state document and one claim per
/// answered message. Claim keys hold the message ID as 20 zero-padded digits, so their byte
/// order is numeric order and "every claim below N" is one key interval.
///
/// ```swift
/// let keys = try EtcdKeyspace(prefix: "/totp-bot/")
/// keys.leader          // "/totp-bot/leader"
/// keys.state           // "/totp-bot/state"
/// keys.claim(42)       // "/totp-bot/claims/00000000000000000042"
/// ```
public struct EtcdKeyspace: Sendable, Equatable {
    /// Ends with "/".
    public let prefix: String

    public init(prefix: String = "/totp-bot/") throws(EtcdError) {
        guard !prefix.isEmpty, !prefix.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .invalidRequest("the etcd key prefix must be non-empty text without control characters, e.g. /totp-bot/")
        }
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    public var leader: String { prefix + "leader" }
    public var state: String { prefix + "state" }
    public var claimsPrefix: String { prefix + "claims/" }

    /// The claim key of message `id` (IDs are non-negative).
    public func claim(_ id: Int64) -> String {
        precondition(id >= 0, "message IDs are non-negative")
        let digits = String(id)
        return claimsPrefix + String(repeating: "0", count: 20 - digits.count) + digits
    }

    /// Every claim of a message ID below `watermark`.
    public func claims(below watermark: Int64) -> EtcdKeyRange {
        .interval(from: claimsPrefix, to: claim(max(0, watermark)))
    }
}
