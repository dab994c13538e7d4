import Platform

/// Where `LeaderStateStore` keeps the leader's state document: a file in `BOT_STATE_DIR` with
/// the lock files (`LeaderStateFile`), or a key in etcd written under the leader's fence with
/// `BOT_ELECTION=etcd` (`EtcdLeaderStateStorage`). The store encodes and decides; the storage
/// only reads and writes bytes, and refuses a write when another leader has taken over.
///
/// ```swift
/// let storage: any LeaderStateStorage = LeaderStateFile(directory: "/var/lib/totp-bot")
/// let bytes = try storage.read()                     // nil: no state yet
/// if let failure = storage.write(bytes!, epoch: 7, watermark: 1234) { print(failure) }
/// ```
protocol LeaderStateStorage: Sendable {
    /// Where the state lives, for messages (a path, or etcd and its key).
    var location: String { get }
    /// True for a store over the network (etcd): a failed read may work a moment later, and a
    /// new leader must not go on without the state (it would overwrite it).
    var isRemote: Bool { get }
    /// The document as last written, nil if none was; an error names what to fix.
    func read() throws(ConfigProblem) -> [UInt8]?
    /// Writes `bytes` (the state of the leader of `epoch`, settled up to `watermark`); nil once
    /// written, else why not: `.superseded` when another leader has taken over, `.io` otherwise.
    func write(_ bytes: [UInt8], epoch: Int?, watermark: Int?) -> LeaderStateStore.WriteFailure?
}
