/// Where the bot's leadership comes from: the lock files today (`LeaderLock`), an etcd
/// election next. A source campaigns on a thread of its own and reports what happens as
/// `Leadership` events; the `LeadershipDriver` turns them into actions. The source never
/// decides what the bot does: it only says whether, and with which fencing token, it leads.
///
/// What a source reports:
/// - `.elected(token:)` once it leads: the lock files' epoch; for etcd (`EtcdElection`'s role
///   `.leader(token:)`) the leader key's create revision, the token its fenced writes carry;
/// - `.lost(reason:)` when leadership is gone while leading: a lock file deleted or replaced;
///   for etcd a role that falls back to `.candidate` or `.standby`;
/// - `.fenceDeadlinePassed` (etcd's `.fenced`): no renewal in time, another may lead soon;
/// - `.electionFailed(reason:)` when it cannot work at all.
///
/// ```swift
/// let election: any LeaderElection = lock
/// election.campaign { event in driver.handle(event) }
/// if let problem = election.verify() { stopActing(problem) }     // right before each reply
/// election.release()                                            // last step of a shutdown
/// ```
protocol LeaderElection: Sendable {
    /// Starts campaigning in the background; `report` is called on the source's own threads.
    func campaign(report: @escaping @Sendable (Leadership.Event) -> Void)
    /// nil while this process may still act as the leader, otherwise why not. Cheap: asked
    /// right before every reply (the lock files: one `stat` each; etcd: the fence deadline
    /// against the clock).
    func verify() -> String?
    /// Gives leadership up at once (closes the lock files, revokes the lease) so a standby
    /// takes over; a standby stops campaigning. Idempotent.
    func release()
}
