#if canImport(Glibc)
import Glibc
#endif
import Platform
import TLS

/// The listener's TLS files: from `GATEWAY_TLS_CERT_FILE`/`_KEY_FILE`/`_CLIENT_CA_FILE`, or
/// else from the `tls-cert`/`tls-key`/`tls-client-ca` systemd credentials; checked (key
/// private and matching, certificate not expired) into a context, so `--check-config` and
/// start-up refuse what a handshake would. SIGHUP runs the same check (`GatewayReload`).
///
/// ```swift
/// let files = try GatewayConfiguration.tlsFiles(certificate: c, key: k, clientCA: nil, credentials: nil)
/// let context = try GatewayConfiguration.tlsContext(files!, warnings: &warnings)
/// ```
extension GatewayConfiguration {
    /// Nil when neither the variables nor the credentials ask for TLS.
    static func tlsFiles(certificate: String?, key: String?, clientCA: String?, credentials: String?) throws(ConfigProblem) -> TLSFiles? {
        typealias S = GatewaySettings
        let certName = S.tlsCertFile.info.name, keyName = S.tlsKeyFile.info.name, caName = S.tlsClientCAFile.info.name
        var files: TLSFiles
        if certificate != nil || key != nil {
            guard let certificate else { throw ConfigProblem(source: keyName, message: "set \(certName) too: a key needs its certificate") }
            guard let key else { throw ConfigProblem(source: certName, message: "set \(keyName) too: a certificate needs its private key") }
            files = TLSFiles(certificate: certificate, key: key, certificateSource: certName, keySource: keyName, clientCASource: caName)
        } else {
            guard let dir = credentials, exists(dir + "/tls-cert") else {
                if clientCA != nil { throw ConfigProblem(source: caName, message: "client certificates need TLS: set \(certName) and \(keyName)") }
                return nil
            }
            files = TLSFiles(certificate: dir + "/tls-cert", key: dir + "/tls-key", certificateSource: "credential tls-cert (\(dir))",
                             keySource: "credential tls-key (\(dir))", clientCASource: caName)
        }
        // The variable, else the credential, with either kind of certificate and key.
        if let clientCA {
            files.clientCA = clientCA
        } else if let dir = credentials, exists(dir + "/tls-client-ca") {
            files.clientCA = dir + "/tls-client-ca"
            files.clientCASource = "credential tls-client-ca (\(dir))"
        }
        return files
    }

    /// Checks the files and builds the context; the key file must be private unless systemd
    /// (a credential) or a container runtime (`/run/secrets/`, a warning) set its mode.
    static func tlsContext(_ files: TLSFiles, warnings: inout [ConfigProblem], now: Int64 = Int64(time(nil))) throws(ConfigProblem) -> TLSContext {
        // A PEM pasted into the variable instead of a path must not be echoed in the error.
        for (path, source) in [(files.certificate, files.certificateSource), (files.key, files.keySource)] + (files.clientCA.map { [($0, files.clientCASource)] } ?? [])
        where !FileIO.looksLikePath(path) {
            throw ConfigProblem(source: source, message: "\(source) must be a path (e.g. /etc/totp-gateway/tls.pem or ./tls.pem); its value is not shown in case it is a key")
        }
        if !files.keySource.hasPrefix("credential ") {
            var st = stat()
            if stat(files.key, &st) == 0 {
                var problems: [ConfigProblem] = []
                FilePermissions.record(FilePermissions.keyFinding(path: files.key, mode: UInt32(st.st_mode) & 0o7777, what: "the TLS private key"),
                    source: files.keySource, problems: &problems, warnings: &warnings)
                if let first = problems.first { throw first }
            }
        }
        do {
            return try TLSContext(files, now: now)
        } catch {
            throw ConfigProblem(source: error.source, message: error.message)
        }
    }

    private static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }
}
