/// What one member says about itself: its ID, its version and the raft leader it follows.
///
/// ```swift
/// let status = try EtcdClient(configuration: .init(endpoints: [member])).status()
/// if status.isRaftLeader { print("this member leads the raft group") }
/// ```
public struct EtcdMemberStatus: Sendable, Equatable {
    public var memberID: UInt64
    /// The raft leader's member ID (0 while there is none).
    public var leaderID: UInt64
    /// etcd's version, e.g. "3.4.23".
    public var version: String
    public var raftTerm: UInt64
    public var revision: Int64

    public var isRaftLeader: Bool { memberID != 0 && memberID == leaderID }
}
