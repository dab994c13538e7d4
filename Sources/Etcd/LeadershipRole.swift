/// Where an election participant stands, as the bot needs to know it: only `.leader` may act
/// (send, edit, write state).
///
/// ```swift
/// switch election.role {
/// case .leader(let token): serve(fencingToken: token)
/// case .fenced, .standby, .candidate, .stopped: stayQuiet()
/// }
/// ```
public enum LeadershipRole: Sendable, Equatable, CustomStringConvertible {
    /// Getting a lease or campaigning (also after losing the lease).
    case candidate
    /// Another participant leads; watching its key to campaign when it goes.
    case standby
    /// Leading, with the leader key's create revision as fencing token, and the fence deadline
    /// not passed yet.
    case leader(token: Int64)
    /// Was leader, but no keepalive succeeded for long enough that etcd may soon elect another:
    /// must not act. Becomes `.leader` again if a keepalive gets through before the lease
    /// expires, `.candidate` when etcd says the lease is gone.
    case fenced(token: Int64)
    /// Stopped (resigned).
    case stopped

    public var isLeader: Bool {
        if case .leader = self { return true }
        return false
    }

    /// `candidate`, `standby`, `leader`, `fenced`, `stopped` (for logs, health and metrics).
    public var name: String {
        switch self {
        case .candidate: "candidate"
        case .standby: "standby"
        case .leader: "leader"
        case .fenced: "fenced"
        case .stopped: "stopped"
        }
    }

    public var description: String {
        switch self {
        case .leader(let token), .fenced(let token): "\(name)(token \(token))"
        default: name
        }
    }
}
