/// Proof of leadership to attach to a write: the leader key and the create revision it had when
/// this participant won it. A fenced write compares the key's current create revision with
/// `token` in the same transaction, so it fails once another participant has been elected,
/// whatever the writer's own clock says.
///
/// ```swift
/// guard let fence = election.fence() else { return }     // nil unless leading, fence deadline not passed
/// let outcome = try writes.claim(message: 1234, fence: fence)
/// ```
public struct EtcdFence: Sendable, Equatable {
    public let leaderKey: String
    /// The leader key's create revision when this participant created it.
    public let token: Int64

    public init(leaderKey: String, token: Int64) {
        self.leaderKey = leaderKey
        self.token = token
    }

    /// The comparison every fenced transaction starts with.
    var compare: EtcdTxn.Compare {
        .createRevision(leaderKey, .equal, token)
    }
}
