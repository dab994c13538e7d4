import Etcd

/// What claiming a message before answering it decided. With etcd each reply is preceded by a
/// claim of its request (`FencedWrites.claim`, one transaction that also checks the fence), so
/// of two processes that both think they lead (one paused past its lease and resumed) only one
/// answers; with the lock files there is nothing to claim.
///
/// ```swift
/// switch MessageClaim.etcd(writes, fence: election.fence(), message: 1234) {
/// case .proceed: send()
/// case .claimedElsewhere: settleWithoutReply()      // another leader answers it
/// case .refused(let why): stopActing(why)
/// }
/// ```
enum MessageClaim: Sendable, Equatable {
    /// This leader holds the claim (made now, or by an earlier attempt of its own).
    case proceed
    /// Another leader (fencing token `byToken`) claimed it first: do not answer.
    case claimedElsewhere(byToken: Int64)
    /// Cannot claim: not leading any more, or etcd unreachable. Do not answer now.
    case refused(String)

    /// Claims `message` in etcd under `fence` (nil: not leading).
    /// `record` is told whether the etcd request worked (for the metrics).
    static func etcd(_ writes: FencedWrites, fence: EtcdFence?, message: Int, budget: Duration = .seconds(2),
                     record: (_ request: String, _ succeeded: Bool) -> Void = { _, _ in }) -> MessageClaim {
        guard let fence else { return .refused("this bot no longer leads (its etcd fence deadline passed)") }
        do {
            let outcome = try writes.claim(message: Int64(message), fence: fence, budget: budget)
            record("claim", true)
            switch outcome {
            case .claimed: return .proceed
            case .alreadyClaimed(let token) where token == fence.token: return .proceed
            case .alreadyClaimed(let token): return .claimedElsewhere(byToken: token)
            case .fencedOut(let token):
                return .refused("the etcd leader key is \(token.map { "held by token \($0)" } ?? "gone"): another bot leads now")
            }
        } catch {
            record("claim", false)
            return .refused("cannot claim the message in etcd: \(error.message)")
        }
    }
}
