/// The lock files as the bot's election source: elected once both are held (the token is the
/// epoch written into them), lost when a path no longer names the file locked (checked every
/// `monitoringInterval`, besides `verify` before each reply).
///
/// ```swift
/// lock.campaign { event in driver.handle(event) }
/// ```
extension LeaderLock: LeaderElection {
    /// How often the leader checks that its lock files are still the files it locked.
    static let monitoringInterval: Duration = .milliseconds(250)

    func campaign(report: @escaping @Sendable (Leadership.Event) -> Void) {
        acquireInBackground(onAcquired: { [self] record in
            report(.elected(token: Int64(record.epoch)))
            startMonitoring(every: Self.monitoringInterval) { report(.lost(reason: $0)) }
        }, onError: { failure in
            report(.electionFailed(reason: failure.description))
        })
    }
}
