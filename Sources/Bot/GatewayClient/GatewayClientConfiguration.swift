/// Where the gateways are and how patiently to ask them.
///
/// ```swift
/// let config = GatewayClientConfiguration(
///     baseURLs: ["https://gw1.internal:8443", "https://gw2.internal:8443"],
///     token: botToken, caFile: "/etc/totp/ca.pem")
/// ```
public struct GatewayClientConfiguration: Sendable, CustomStringConvertible {
    /// Gateway instances (or HAProxy frontends), e.g. `https://gw1:8443`; no trailing path.
    public var baseURLs: [String]
    /// Bearer token sent to the gateway; never logged.
    public var token: String
    /// CA bundle the gateway certificates chain to; `nil` uses the system store.
    public var caFile: String?
    /// Limit for one attempt on one instance (connect included).
    public var perAttemptTimeout: Duration = .milliseconds(1500)
    /// Limit for the whole `fetchCode`, failovers included.
    public var overallDeadline: Duration = .seconds(4)
    /// How long an instance that failed is skipped before one request probes it again.
    public var cooldown: Duration = .seconds(5)
    public var userAgent: String = "totp-bot/1.0"

    public init(
        baseURLs: [String], token: String, caFile: String? = nil,
        perAttemptTimeout: Duration = .milliseconds(1500), overallDeadline: Duration = .seconds(4),
        cooldown: Duration = .seconds(5), userAgent: String = "totp-bot/1.0"
    ) {
        self.baseURLs = baseURLs
        self.token = token
        self.caFile = caFile
        self.perAttemptTimeout = perAttemptTimeout
        self.overallDeadline = overallDeadline
        self.cooldown = cooldown
        self.userAgent = userAgent
    }

    /// Everything but the token.
    public var description: String {
        "GatewayClientConfiguration(baseURLs: \(baseURLs), token: <hidden>, caFile: \(caFile ?? "system"), "
            + "perAttemptTimeout: \(perAttemptTimeout), overallDeadline: \(overallDeadline), cooldown: \(cooldown))"
    }
}
