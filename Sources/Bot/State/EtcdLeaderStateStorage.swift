import Etcd
import Platform

/// The leader's state as one etcd key (`BOT_ETCD_PREFIX` + `state`) with `BOT_ELECTION=etcd`:
/// every write is a transaction that first checks the leader key still has this leader's
/// create revision (`FencedWrites.writeState`), so a deposed leader, even one paused past its
/// lease and resumed, changes nothing; such a refused write is `.superseded` and the bot stops
/// acting. A leader on another host reads it at takeover and continues where this one stopped.
/// The same transaction prunes the claims below the watermark, which no catch-up needs again.
///
/// ```swift
/// let storage = EtcdLeaderStateStorage(writes: FencedWrites(client: client, keyspace: keys), fence: { election.fence() })
/// ```
struct EtcdLeaderStateStorage: LeaderStateStorage {
    let writes: FencedWrites
    /// The fence of the current leadership, nil unless leading within the fence deadline.
    let fence: @Sendable () -> EtcdFence?
    /// Told whether each etcd request worked (`bot_etcd_request_failures_total`, `bot_etcd_up`).
    var record: @Sendable (_ request: String, _ succeeded: Bool) -> Void = { _, _ in }

    var location: String { "etcd key \(writes.keyspace.state)" }
    var isRemote: Bool { true }

    func read() throws(ConfigProblem) -> [UInt8]? {
        do {
            let bytes = try writes.readState(budget: .seconds(5))
            record("read_state", true)
            return bytes
        } catch {
            record("read_state", false)
            throw ConfigProblem(source: "BOT_ETCD_ENDPOINTS", message: "cannot read the leader state \(writes.keyspace.state): \(error.message)")
        }
    }

    func write(_ bytes: [UInt8], epoch: Int?, watermark: Int?) -> LeaderStateStore.WriteFailure? {
        guard let fence = fence() else {
            return .init(kind: .superseded, description: "this bot no longer leads (its etcd fence deadline passed or its leader key is gone)")
        }
        do {
            let outcome = try writes.writeState(bytes, pruningClaimsBelow: watermark.map { Int64($0) }, fence: fence, budget: .seconds(2))
            record("write_state", true)
            switch outcome {
            case .written:
                return nil
            case .fencedOut(let token):
                return .init(kind: .superseded, description:
                    "etcd refused the state write: the leader key is \(token.map { "held by token \($0)" } ?? "gone"), not this bot's \(fence.token): another bot leads now")
            }
        } catch {
            record("write_state", false)
            return .init(kind: .io, description: "etcd: \(error.message)")
        }
    }
}
