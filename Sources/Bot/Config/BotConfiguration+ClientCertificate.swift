#if canImport(Glibc)
import Glibc
#endif
import Platform

/// `GATEWAY_CLIENT_CERT_FILE` and `GATEWAY_CLIENT_KEY_FILE`: mutual TLS to the gateways. Both or
/// neither; both readable; the key private like every key file (a container secret under
/// `/run/secrets/` is let through, its mode being the runtime's). Whether the pair matches and
/// the gateway accepts it shows on the first request (curl names the file).
///
/// ```swift
/// BotConfiguration.clientCertificateProblem(certificate: "/etc/totp/bot.pem", key: nil)
/// // GATEWAY_CLIENT_CERT_FILE: set GATEWAY_CLIENT_KEY_FILE too ...
/// ```
extension BotConfiguration {
    static func clientCertificateProblem(certificate: String?, key: String?) -> ConfigProblem? {
        let certName = BotSettings.gatewayClientCert.info.name, keyName = BotSettings.gatewayClientKey.info.name
        switch (certificate, key) {
        case (nil, nil):
            return nil
        case (_?, nil):
            return ConfigProblem(source: certName, message: "set \(keyName) too: a client certificate needs its private key")
        case (nil, _?):
            return ConfigProblem(source: keyName, message: "set \(certName) too: a private key needs its certificate")
        case let (certificate?, key?):
            for (path, name) in [(certificate, certName), (key, keyName)] {
                guard FileIO.looksLikePath(path) else {
                    return ConfigProblem(source: name, message: "\(name) must be a path (e.g. /etc/totp-bot/client.pem); its value is not shown in case it is a key")
                }
                guard access(path, R_OK) == 0 else {
                    return ConfigProblem(source: name, message: "cannot read \(path): \(String(cString: strerror(errno)))")
                }
            }
            var st = stat()
            if stat(key, &st) == 0,
               case .refuse(let message)? = FilePermissions.keyFinding(path: key, mode: UInt32(st.st_mode) & 0o7777, what: "the bot's TLS client key") {
                return ConfigProblem(source: keyName, message: message)
            }
            return nil
        }
    }
}
