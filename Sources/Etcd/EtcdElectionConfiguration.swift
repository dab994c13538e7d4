/// Settings of one `EtcdElection` participant.
///
/// ```swift
/// var configuration = try EtcdElectionConfiguration(keyspace: EtcdKeyspace(prefix: "/totp-bot/"), identity: "host-a pid 4242")
/// configuration.machine.leaseSeconds = 5
/// ```
public struct EtcdElectionConfiguration: Sendable {
    public var keyspace: EtcdKeyspace
    /// The leader key's value while this participant leads: who it is (host, process), for
    /// operators reading the key. Not a secret.
    public var identity: String
    /// Lease, fence margin and retry delay.
    public var machine: LeadershipMachine.Configuration
    /// Longest one watch stream lasts before it is reopened from the same revision (notices a
    /// connection that died without a reset). Default 30 s.
    public var watchRenewal: Duration = .seconds(30)

    public init(keyspace: EtcdKeyspace, identity: String, machine: LeadershipMachine.Configuration = .init()) throws(EtcdError) {
        try machine.validate()
        self.keyspace = keyspace
        self.identity = identity
        self.machine = machine
    }

    /// Budget of one election request (all members included): a third of the lease, so a
    /// leader cut off from etcd hears back, and reports itself fenced, in time.
    var requestBudget: Duration { .seconds(machine.leaseSeconds) / 3 }
}
