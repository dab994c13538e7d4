import Foundation

/// A throw-away CA with a server certificate for etcd (valid for `localhost` and 127.0.0.1, and
/// for client use too: etcd 3.4's JSON gateway presents it when it dials its own gRPC server)
/// and a client certificate, made with the `openssl` CLI in `directory`.
///
/// ```swift
/// let certificates = try EtcdTestCertificates(directory: tmp.path)
/// let cluster = try EtcdCluster(members: 1, tls: certificates)
/// ```
public struct EtcdTestCertificates: Sendable {
    public let caFile: String
    public let serverCertificateFile: String
    public let serverKeyFile: String
    public let clientCertificateFile: String
    public let clientKeyFile: String

    public init(directory: String) throws {
        func path(_ name: String) -> String { directory + "/" + name }
        caFile = path("ca.pem")
        serverCertificateFile = path("server.pem")
        serverKeyFile = path("server.key")
        clientCertificateFile = path("client.pem")
        clientKeyFile = path("client.key")
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try Self.openssl(["req", "-x509"] + ec + ["-keyout", path("ca.key"), "-out", caFile, "-days", "2", "-subj", "/CN=totp-test-ca"])
        for (name, usage, san) in [("server", "serverAuth,clientAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1\n"),
                                   ("client", "clientAuth", "")] {
            try Self.openssl(["req"] + ec + ["-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", "/CN=totp-test-\(name)"])
            try (san + "extendedKeyUsage=\(usage)\n").write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
            try Self.openssl(["x509", "-req", "-in", path("\(name).csr"), "-CA", caFile, "-CAkey", path("ca.key"),
                              "-CAcreateserial", "-out", path("\(name).pem"), "-days", "2", "-extfile", path("\(name).ext")])
        }
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = TestProcess.run("/usr/bin/openssl", arguments, timeout: 30)
        guard result.status == 0 else {
            throw NSError(domain: "EtcdTestCertificates", code: Int(result.status),
                          userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.first ?? "") failed: \(result.stderr)"])
        }
    }
}
