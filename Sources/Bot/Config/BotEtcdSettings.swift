import Etcd
import Platform
import TextSupport

/// The etcd side of `BOT_ELECTION=etcd`, checked once at start-up: where etcd is (members,
/// TLS files), the key prefix and the lease. `BotConfiguration.etcd` is nil with the lock files.
///
/// ```swift
/// let etcd = try BotEtcdSettings(endpoints: "http://10.0.0.5:2379,http://10.0.0.6:2379", prefix: "/totp-bot/",
///                                leaseSeconds: 5, caFile: nil, certificateFile: nil, keyFile: nil)
/// etcd.keyspace.leader     // "/totp-bot/leader"
/// ```
struct BotEtcdSettings: Sendable {
    let client: EtcdClientConfiguration
    let keyspace: EtcdKeyspace
    let leaseSeconds: Int64

    /// Every problem found, each naming its variable; never a file's content.
    init(endpoints: String?, prefix: String, leaseSeconds: Int, caFile: String?, certificateFile: String?, keyFile: String?)
        throws(ConfigError) {
        var problems: [ConfigProblem] = []
        let list = (endpoints ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: " \t") }.filter { !$0.isEmpty }
        var client: EtcdClientConfiguration?
        if list.isEmpty {
            problems.append(ConfigProblem(source: "BOT_ETCD_ENDPOINTS",
                message: "not set; BOT_ELECTION=etcd needs the etcd members' client URLs, e.g. http://10.0.0.5:2379,http://10.0.0.6:2379"))
        } else {
            do { client = try EtcdClientConfiguration(endpoints: list) } catch {
                problems.append(ConfigProblem(source: "BOT_ETCD_ENDPOINTS", message: error.message))
            }
        }
        if (certificateFile == nil) != (keyFile == nil) {
            problems.append(ConfigProblem(source: certificateFile == nil ? "BOT_ETCD_KEY_FILE" : "BOT_ETCD_CERT_FILE",
                message: "a client certificate needs its key: set both BOT_ETCD_CERT_FILE and BOT_ETCD_KEY_FILE, or neither"))
        }
        for (name, path) in [("BOT_ETCD_CA_FILE", caFile), ("BOT_ETCD_CERT_FILE", certificateFile), ("BOT_ETCD_KEY_FILE", keyFile)] {
            guard let path else { continue }
            if (try? FileIO.read(path, maxBytes: 1 << 20)) == nil {
                problems.append(ConfigProblem(source: name, message: "cannot read \(path); check that it exists and that this user may read it"))
            }
        }
        var keyspace: EtcdKeyspace?
        do { keyspace = try EtcdKeyspace(prefix: prefix) } catch {
            problems.append(ConfigProblem(source: "BOT_ETCD_PREFIX", message: error.message))
        }
        guard problems.isEmpty, var client, let keyspace else { throw ConfigError(problems) }
        // etcd answers in milliseconds unless it has no raft leader; then a member holds the
        // request. A short attempt goes round the members again soon after a new raft leader is
        // elected (1-2 s with etcd's defaults), so a DM waits for the election, not much more.
        client.attemptTimeout = .milliseconds(400)
        client.caFile = caFile
        client.clientCertificateFile = certificateFile
        client.clientKeyFile = keyFile
        self.client = client
        self.keyspace = keyspace
        self.leaseSeconds = Int64(leaseSeconds)
    }

    /// The election's settings, naming this process in the leader key (host and pid, no secret).
    func election(identity: String) throws(EtcdError) -> EtcdElectionConfiguration {
        try EtcdElectionConfiguration(keyspace: keyspace, identity: identity, machine: .init(leaseSeconds: leaseSeconds))
    }
}
