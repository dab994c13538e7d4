import Foundation

/// Real etcd members (Debian's `etcd-server` 3.4) for tests: one or three members in a temp
/// directory, with `--unsafe-no-fsync`, reached through Unix domain sockets in that directory
/// (etcd 3.4 serves `unix://` and `unixs://` client and peer URLs, and curl connects with
/// `CURLOPT_UNIX_SOCKET_PATH`), so there is no port to pick and no race for one. `.tcp` listens
/// on 127.0.0.1 instead: etcd must be told the port up front (with port 0 its JSON gateway dials
/// port 0), so the cluster holds a port the kernel picked (`ReservedPort(forServer:)`) that etcd
/// alone can bind, for its whole life, restarts included. Every wait is bounded; members are
/// stopped by PID.
///
/// ```swift
/// let cluster = try EtcdCluster(members: 3)
/// let client = try EtcdClient(configuration: EtcdClientConfiguration(endpoints: cluster.endpoints))
/// cluster.kill(0)            // SIGKILL member m1
/// try cluster.restart(0)     // same data directory, rejoins
/// ```
public final class EtcdCluster: @unchecked Sendable {
    // @unchecked: the process table is only touched from the test's thread.

    public enum Transport: Sendable {
        /// Plain HTTP on a Unix socket.
        case unix
        /// TLS with client-certificate authentication on a Unix socket (`unixs://`).
        case unixTLS(EtcdTestCertificates)
        /// Plain HTTP on 127.0.0.1 (one member only).
        case tcp
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public let directory = TemporaryDirectory(prefix: "etcd")
    public let size: Int
    public let transport: Transport
    private let token = "totp-test-" + UUID().uuidString.prefix(8)
    private var processes: [TestProcess?]
    /// The port a `.tcp` member listens on, held for the cluster's life.
    private let tcpPort: ReservedPort?
    /// Seconds from exec to a healthy `/health`, for each start (for the report).
    public private(set) var startSeconds: [Double] = []
    /// etcd's `--election-timeout` (ms); nil keeps etcd's default (1000, heartbeat 100).
    private let electionTimeoutMilliseconds: Int?

    public init(members: Int = 1, transport: Transport = .unix, electionTimeoutMilliseconds: Int? = nil,
                timeout: TimeInterval = 30) throws {
        precondition(members >= 1 && members <= 5, "1 to 5 members")
        if case .tcp = transport { precondition(members == 1, "TCP is for a single member") }
        size = members
        self.transport = transport
        self.electionTimeoutMilliseconds = electionTimeoutMilliseconds
        processes = Array(repeating: nil, count: members)
        if case .tcp = transport { tcpPort = try ReservedPort(forServer: true) } else { tcpPort = nil }
        let started = Date()
        for member in 0..<members { try launch(member, state: "new") }
        guard waitHealthy(Array(0..<members), timeout: timeout) else {
            let logs = (0..<members).map { processes[$0]?.stderr ?? "" }.joined(separator: "\n")
            for member in 0..<members { kill(member) }
            throw StartError(description: "etcd did not become healthy within \(timeout) s; its log ends:\n"
                + logs.split(separator: "\n").suffix(15).joined(separator: "\n"))
        }
        startSeconds.append(Date().timeIntervalSince(started))
    }

    deinit {
        for member in 0..<size { kill(member) }
    }

    public var endpoints: [String] { (0..<size).map(endpoint) }

    /// The client URL of member `index` (0-based) as `EtcdEndpoint` reads it.
    public func endpoint(_ index: Int) -> String {
        switch transport {
        case .unix: "unix://" + directory.path + "/" + clientSocket(index)
        case .unixTLS: "unixs://" + directory.path + "/" + clientSocket(index)
        case .tcp: "http://127.0.0.1:\(tcpPort?.port ?? 0)"
        }
    }

    public func pid(_ index: Int) -> Int32? { processes[index]?.process.processIdentifier }

    /// SIGKILLs member `index` and waits (up to 10 s) for it to exit.
    public func kill(_ index: Int) {
        guard let process = processes[index] else { return }
        if process.process.isRunning {
            process.signal(SIGKILL)
            process.waitForExit(timeout: 10)
        }
        processes[index] = nil
    }

    /// Starts member `index` again on its data directory; waits (bounded) until it is healthy.
    public func restart(_ index: Int, timeout: TimeInterval = 30) throws {
        kill(index)
        let started = Date()
        try launch(index, state: "existing")
        guard waitHealthy([index], timeout: timeout) else {
            throw StartError(description: "etcd member m\(index + 1) did not become healthy again within \(timeout) s")
        }
        startSeconds.append(Date().timeIntervalSince(started))
    }

    /// Starts every member again at once on its data directory (one alone has no quorum, so
    /// they cannot be waited for one by one); waits (bounded) until all are healthy.
    public func restartAll(timeout: TimeInterval = 30) throws {
        for member in 0..<size { kill(member) }
        let started = Date()
        for member in 0..<size { try launch(member, state: "existing") }
        guard waitHealthy(Array(0..<size), timeout: timeout) else {
            throw StartError(description: "the etcd members did not become healthy again within \(timeout) s")
        }
        startSeconds.append(Date().timeIntervalSince(started))
    }

    /// Polls `/health` of `members` every 10 ms until all answer `{"health":"true"}`; false at
    /// once if one of them exited (e.g. its port was taken).
    public func waitHealthy(_ members: [Int], timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if members.contains(where: { processes[$0]?.process.isRunning != true }) { return false }
            if members.allSatisfy(isHealthy) { return true }
            usleep(10_000)
        } while Date() < deadline
        return false
    }

    public func isHealthy(_ index: Int) -> Bool {
        let body: String
        switch transport {
        case .unix:
            body = Self.unixGET(directory.path + "/" + clientSocket(index), path: "/health") ?? ""
        case .tcp:
            body = TestProcess.run("/usr/bin/curl", ["-s", "-m", "2", endpoint(index) + "/health"], timeout: 5).stdout
        case .unixTLS(let certificates):
            body = TestProcess.run("/usr/bin/curl", [
                "-s", "-m", "2", "--unix-socket", directory.path + "/" + clientSocket(index),
                "--cacert", certificates.caFile, "--cert", certificates.clientCertificateFile,
                "--key", certificates.clientKeyFile, "https://localhost/health",
            ], timeout: 5).stdout
        }
        return body.contains("\"health\":\"true\"")
    }

    /// Member `index`'s log so far.
    public func log(_ index: Int) -> String { processes[index]?.stderr ?? "" }

    // MARK: Private

    private func name(_ index: Int) -> String { "m\(index + 1)" }
    // etcd wants unix URLs as host:port and binds the socket at that name, relative to its
    // working directory (the temp directory).
    private func clientSocket(_ index: Int) -> String { "\(name(index))-client:1" }
    private func peerSocket(_ index: Int) -> String { "\(name(index))-peer:1" }
    private func dataDirectory(_ index: Int) -> String { directory.path + "/\(name(index)).data" }

    private func launch(_ index: Int, state: String) throws {
        // A killed member leaves its socket files behind; binding would fail on them.
        for socket in [clientSocket(index), peerSocket(index)] {
            unlink(directory.path + "/" + socket)
        }
        let cluster = (0..<size).map { "\(name($0))=unix://\(peerSocket($0))" }.joined(separator: ",")
        let clientURL: String
        var tlsArguments: [String] = []
        switch transport {
        case .unix:
            clientURL = "unix://" + clientSocket(index)
        case .tcp:
            clientURL = "http://127.0.0.1:\(tcpPort?.port ?? 0)"
        case .unixTLS(let certificates):
            clientURL = "unixs://" + clientSocket(index)
            tlsArguments = [
                "--cert-file", certificates.serverCertificateFile, "--key-file", certificates.serverKeyFile,
                "--trusted-ca-file", certificates.caFile, "--client-cert-auth",
            ]
        }
        let arguments = [
            "--name", name(index), "--data-dir", dataDirectory(index), "--unsafe-no-fsync",
            "--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
            "--listen-peer-urls", "unix://" + peerSocket(index), "--initial-advertise-peer-urls", "unix://" + peerSocket(index),
            "--initial-cluster", cluster, "--initial-cluster-token", token, "--initial-cluster-state", state,
        ] + tlsArguments + (electionTimeoutMilliseconds.map { ["--election-timeout", String($0)] } ?? [])
        processes[index] = try TestProcess(
            executable: "/usr/bin/etcd", arguments: arguments, environment: [:], directory: directory.path,
            workingDirectory: directory.path)
    }

    /// One `GET` over a Unix socket (HTTP/1.0, so the server closes after answering); nil on
    /// any failure. Bounded by 1 s socket timeouts.
    static func unixGET(_ socketPath: String, path: String) -> String? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while response.count < 65536 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: response, as: UTF8.self)
    }
}
