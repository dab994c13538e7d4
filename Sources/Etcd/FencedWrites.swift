/// The writes a leader makes under its fence, each one etcd transaction that first checks that
/// the leader key still has the leader's create revision (`EtcdFence`), so a deposed leader,
/// even one paused past its lease and resumed, changes nothing:
/// - **claim message N**: create `prefix/claims/<N>` only if it does not exist, before replying
///   to or editing message N; claims have no lease, so they outlive the leader that wrote them;
/// - **write the state document** `prefix/state` (pruning the claims below its watermark in the
///   same transaction, if asked);
/// - **prune claims** of messages below the watermark.
/// Each returns whether it happened and, if not, why. The failure branch reads what blocked it,
/// which also makes a claim safe to repeat after a lost answer: a claim already holding the
/// caller's token was its own.
///
/// ```swift
/// let writes = FencedWrites(client: client, keyspace: keys)
/// switch try writes.claim(message: 1234, fence: fence) {
/// case .claimed: send(reply)
/// case .alreadyClaimed(let token) where token == fence.token: resumeOwnSend()   // my earlier attempt
/// case .alreadyClaimed: break          // another leader answered it
/// case .fencedOut: stopActing()
/// }
/// ```
public struct FencedWrites: Sendable {
    public enum ClaimOutcome: Sendable, Equatable {
        /// This call created the claim.
        case claimed
        /// The message was claimed before, by the leader with fencing token `byToken` (this
        /// caller's own token if an earlier attempt of its own got through).
        case alreadyClaimed(byToken: Int64)
        /// The leader key is gone or belongs to another election (`leaderToken`, nil if none):
        /// this participant is not the leader any more and must stop acting.
        case fencedOut(leaderToken: Int64?)
    }

    public enum WriteOutcome: Sendable, Equatable {
        /// Written at `revision`.
        case written(revision: Int64)
        case fencedOut(leaderToken: Int64?)
    }

    public enum PruneOutcome: Sendable, Equatable {
        case pruned(count: Int64)
        case fencedOut(leaderToken: Int64?)
    }

    public let client: EtcdClient
    public let keyspace: EtcdKeyspace

    public init(client: EtcdClient, keyspace: EtcdKeyspace) {
        self.client = client
        self.keyspace = keyspace
    }

    public func claim(message id: Int64, fence: EtcdFence, budget: Duration? = nil) throws(EtcdError) -> ClaimOutcome {
        guard id >= 0 else { throw .invalidRequest("message ID \(id) is negative; Zulip message IDs are positive") }
        let txn = Self.claimTransaction(keyspace: keyspace, message: id, fence: fence)
        return try Self.claimOutcome(try client.txn(txn, budget: budget), fence: fence)
    }

    /// Writes the state document; with `watermark`, the same transaction prunes the claims below
    /// it (no catch-up looks below the watermark, so they are never needed again).
    public func writeState(_ document: [UInt8], pruningClaimsBelow watermark: Int64? = nil, fence: EtcdFence,
                           budget: Duration? = nil) throws(EtcdError) -> WriteOutcome {
        let txn = Self.stateTransaction(keyspace: keyspace, document: document, pruningClaimsBelow: watermark, fence: fence)
        let result = try client.txn(txn, budget: budget)
        guard result.succeeded else { return .fencedOut(leaderToken: Self.leaderToken(result)) }
        guard case .put(let revision)? = result.responses.first else {
            throw .badResponse("a state write answered without its put result")
        }
        return .written(revision: revision)
    }

    public func pruneClaims(below watermark: Int64, fence: EtcdFence, budget: Duration? = nil) throws(EtcdError) -> PruneOutcome {
        let result = try client.txn(Self.pruneTransaction(keyspace: keyspace, below: watermark, fence: fence), budget: budget)
        guard result.succeeded else { return .fencedOut(leaderToken: Self.leaderToken(result)) }
        guard case .delete(let count)? = result.responses.first else {
            throw .badResponse("a claim prune answered without its delete result")
        }
        return .pruned(count: count)
    }

    /// The state document as last written (by any leader), or nil if none was.
    public func readState(budget: Duration? = nil) throws(EtcdError) -> [UInt8]? {
        try client.get(keyspace.state, budget: budget)?.value
    }

    // MARK: Transactions (pure, for tests and for callers batching their own)

    /// Claim `message` if the fence holds and no claim exists; the failure branch reads the
    /// leader key, then the claim.
    public static func claimTransaction(keyspace: EtcdKeyspace, message id: Int64, fence: EtcdFence) -> EtcdTxn {
        let claimKey = keyspace.claim(id)
        return EtcdTxn(
            compare: [fence.compare, .createRevision(claimKey, .equal, 0)],
            success: [.put(claimKey, value: Array(String(fence.token).utf8))],
            failure: [.get(.key(fence.leaderKey)), .get(.key(claimKey))])
    }

    public static func claimOutcome(_ result: EtcdTxnResult, fence: EtcdFence) throws(EtcdError) -> ClaimOutcome {
        if result.succeeded { return .claimed }
        let leader = result.range(at: 0)?.kvs.first
        if leader?.createRevision != fence.token { return .fencedOut(leaderToken: leader?.createRevision) }
        guard let claim = result.range(at: 1)?.kvs.first else {
            throw .badResponse("a claim transaction failed although the fence held and no claim exists")
        }
        return .alreadyClaimed(byToken: Int64(String(decoding: claim.value, as: UTF8.self)) ?? 0)
    }

    /// Put the state document (and delete the claims below `watermark`, if given) if the fence
    /// holds; the failure branch reads the leader key.
    public static func stateTransaction(keyspace: EtcdKeyspace, document: [UInt8], pruningClaimsBelow watermark: Int64? = nil,
                                        fence: EtcdFence) -> EtcdTxn {
        var success: [EtcdTxn.Operation] = [.put(keyspace.state, value: document)]
        if let watermark { success.append(.delete(keyspace.claims(below: watermark))) }
        return EtcdTxn(compare: [fence.compare], success: success, failure: [.get(.key(fence.leaderKey))])
    }

    /// Delete every claim below `watermark` if the fence holds.
    public static func pruneTransaction(keyspace: EtcdKeyspace, below watermark: Int64, fence: EtcdFence) -> EtcdTxn {
        EtcdTxn(compare: [fence.compare], success: [.delete(keyspace.claims(below: watermark))], failure: [.get(.key(fence.leaderKey))])
    }

    /// The leader key's create revision read by a failed fenced transaction (nil: no leader key).
    private static func leaderToken(_ result: EtcdTxnResult) -> Int64? {
        result.range(at: 0)?.kvs.first?.createRevision
    }
}
