import Foundation

/// A throw-away CA made with the `openssl` CLI in a directory, issuing P-256 certificates for
/// servers (valid for `localhost` and 127.0.0.1) and clients. Files are `NAME.pem` and
/// `NAME.key` (mode 0600) next to the CA's `CANAME.pem`.
///
/// ```swift
/// let ca = try TestCertificateAuthority(directory: tmp.path, name: "ca")
/// let server = try ca.issue("server", usage: .server)   // (certificate:, key:)
/// let client = try ca.issue("client", usage: .client)
/// ```
public struct TestCertificateAuthority: Sendable {
    /// What a certificate is for (its extended key usage, and a SAN for servers).
    public enum Usage: Sendable {
        case server, client, serverAndClient
    }

    public let directory: String
    public let name: String
    /// The CA certificate (the trust anchor to give clients or a server's client-CA setting).
    public let certificateFile: String

    static let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    public init(directory: String, name: String = "ca", days: Int = 2) throws {
        self.directory = directory
        self.name = name
        certificateFile = directory + "/\(name).pem"
        try Self.openssl(["req", "-x509"] + Self.ec + ["-keyout", directory + "/\(name).key", "-out", certificateFile,
                          "-days", String(days), "-subj", "/CN=totp-test-\(name)"])
    }

    /// Issues `NAME.pem` and `NAME.key` signed by this CA, with subject `CN=commonName`
    /// (default `totp-test-NAME`).
    @discardableResult
    public func issue(_ file: String, usage: Usage, commonName: String? = nil, days: Int = 2) throws -> (certificate: String, key: String) {
        func path(_ suffix: String) -> String { directory + "/\(file).\(suffix)" }
        let san = "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        let ext: String = switch usage {
        case .server: san + "extendedKeyUsage=serverAuth\n"
        case .client: "extendedKeyUsage=clientAuth\n"
        case .serverAndClient: san + "extendedKeyUsage=serverAuth,clientAuth\n"
        }
        try Self.openssl(["req"] + Self.ec + ["-keyout", path("key"), "-out", path("csr"), "-subj", "/CN=\(commonName ?? "totp-test-\(file)")"])
        try ext.write(toFile: path("ext"), atomically: true, encoding: .utf8)
        try Self.openssl(["x509", "-req", "-in", path("csr"), "-CA", certificateFile, "-CAkey", directory + "/\(name).key",
                          "-CAcreateserial", "-out", path("pem"), "-days", String(days), "-extfile", path("ext")])
        chmod(path("key"), 0o600)
        return (path("pem"), path("key"))
    }

    static func openssl(_ arguments: [String]) throws {
        let result = TestProcess.run("/usr/bin/openssl", arguments, timeout: 30)
        guard result.status == 0 else {
            throw NSError(domain: "TestCertificateAuthority", code: Int(result.status),
                          userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments.first ?? "") failed: \(result.stderr)"])
        }
    }
}
