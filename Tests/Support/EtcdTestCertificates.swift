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
        let ca = try TestCertificateAuthority(directory: directory)
        caFile = ca.certificateFile
        (serverCertificateFile, serverKeyFile) = try ca.issue("server", usage: .serverAndClient)
        (clientCertificateFile, clientKeyFile) = try ca.issue("client", usage: .client)
    }
}
