import Etcd
import Platform
import Synchronization

/// An etcd lease as the bot's election source (`BOT_ELECTION=etcd`), across hosts: it runs an
/// `EtcdElection` and turns its roles into `Leadership` events: `.leader(token:)` is
/// `.elected(token:)` (the leader key's create revision, the fencing token of every state
/// write and claim); `.fenced` is `.fenceDeadlinePassed`; falling back to `.candidate` or
/// `.standby` while leading is `.lost`. `verify` asks the fence at the moment of asking (the
/// monotonic deadline of the last renewal), so a leader paused past its lease and resumed
/// sends nothing, even before its election thread runs again.
///
/// ```swift
/// let election = EtcdLeaderElection(client: client, configuration: etcd.election(identity: "host-a pid 42"), logger: logger)
/// election.campaign { event in driver.handle(event) }
/// election.fence()     // what a fenced write carries, nil unless leading
/// ```
final class EtcdLeaderElection: LeaderElection {
    let client: EtcdClient
    private let election: EtcdElection
    private let relay = Relay()

    /// `onRole` sees every role change, `onRequest` every election request's outcome (metrics).
    init(client: EtcdClient, configuration: EtcdElectionConfiguration, logger: Logger?,
         onRequest: @escaping @Sendable (_ request: String, _ succeeded: Bool) -> Void = { _, _ in },
         onRole: @escaping @Sendable (LeadershipRole) -> Void = { _ in }) {
        self.client = client
        let relay = relay
        election = EtcdElection(client: client, configuration: configuration, logger: logger, onRequest: onRequest) { role in
            onRole(role)
            relay.forward(role)
        }
    }

    /// The role now, the fence deadline applied.
    var role: LeadershipRole { election.role }

    /// The fence to attach to a write, nil unless leading within the fence deadline.
    func fence() -> EtcdFence? { election.fence() }

    /// When leadership ends without a renewal (nil unless leading).
    var fenceDeadline: ContinuousClock.Instant? { election.fenceDeadline }

    func campaign(report: @escaping @Sendable (Leadership.Event) -> Void) {
        relay.report.withLock { $0 = report }
        election.start()
    }

    func verify() -> String? {
        switch election.role {
        case .leader: nil
        case .fenced: "no etcd keepalive got through in time (the fence deadline passed): another bot may be elected"
        case .candidate, .standby, .stopped: "this bot no longer holds the etcd leader key"
        }
    }

    func release() {
        // Revokes the lease, which deletes the leader key: a standby takes over at once.
        election.stop(timeout: .seconds(2))
    }

    /// The `Leadership` event a role change is, given the token reported as elected before
    /// (updated when this one is an election).
    static func event(for role: LeadershipRole, elected token: inout Int64?) -> Leadership.Event? {
        switch role {
        case .leader(let new):
            // Back from `.fenced` with the same key: the bot has already stopped acting (a
            // fence passed is a lost leadership to it), so nothing to report.
            guard token == nil else { return nil }
            token = new
            return .elected(token: new)
        case .fenced:
            return token == nil ? nil : .fenceDeadlinePassed
        case .candidate, .standby:
            return token == nil ? nil : .lost(reason: "the etcd lease or leader key is gone: another bot may lead now")
        case .stopped:
            return nil
        }
    }

    /// Carries role changes from the election's thread to the campaign's `report`.
    private final class Relay: Sendable {
        let report = Mutex<(@Sendable (Leadership.Event) -> Void)?>(nil)
        /// The token reported as elected, so a repeated `.leader` is not reported twice.
        private let elected = Mutex<Int64?>(nil)

        func forward(_ role: LeadershipRole) {
            guard let event = elected.withLock({ EtcdLeaderElection.event(for: role, elected: &$0) }) else { return }
            report.withLock { $0 }?(event)
        }
    }
}
