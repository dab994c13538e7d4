import Platform
import CurlHTTP

/// The curl options of both of the bot's clients (Zulip and the gateways): its User-Agent, the
/// CA bundle, the client certificate for mutual TLS (the gateways only), and TCP keep-alive after 30 s idle with probes every 15 s, so a connection whose
/// peer vanished is noticed by the kernel too, and the probes keep NATs and load balancers from
/// dropping an idle long-poll.
///
/// ```swift
/// let http = HTTPClient(options: .bot(caFile: config.zulipCAFile))
/// ```
extension HTTPClientOptions {
    static func bot(caFile: String?, clientCertificate: String? = nil, clientKey: String? = nil) -> HTTPClientOptions {
        var options = HTTPClientOptions(userAgent: "totp-bot/\(ProductVersion.current)", caFile: caFile)
        options.clientCertificateFile = clientCertificate
        options.clientKeyFile = clientKey
        options.tcpKeepAlive = .init(idle: .seconds(30), interval: .seconds(15))
        return options
    }
}
