import Platform

/// `totp-gateway --help`: the commands and endpoints, then every variable from the settings
/// table (`GatewaySettings`), so the list cannot drift from what the gateway reads.
enum HelpText {
    static var gateway: String {
        let table = GatewaySettings.table
        return """
        totp-gateway \(ProductVersion.current): serves TOTP codes over HTTP to authenticated clients.

        USAGE
          totp-gateway [--listen HOST:PORT]        run the server (SIGTERM drains, SIGHUP reloads)
          totp-gateway --check-config              validate the configuration and exit (0 ok, 2 errors)
          totp-gateway --healthcheck URL           GET URL, exit 0 on 200 (container probe; https://
                                                   checks its own TLS listener with its certificate)
          totp-gateway seal-seeds IN OUT --key-file KEY
                                                   encrypt a plain seeds file (AES-256-GCM envelope)
          totp-gateway --version | --help

        ENDPOINTS
          GET /code?label=X[&next=1]   Authorization: Bearer <token>; JSON code and timing
          GET /labels                  Authorization: Bearer <token>; the labels the token may request,
                                       with algorithm, digits and period (never a seed or a code)
          GET /healthz                 200 ok, 503 while draining, for 10 s after an audit write failed,
                                       or while the clock is unsynchronized if required
          GET /metrics                 Prometheus text format 0.0.4

        \(table.help())

        \(SettingsTable.paragraph("""
            Files holding keys or tokens must not be readable by group or others (chmod 600; systemd \
            credentials exempt, /run/secrets only warned about); plaintext seeds files are warned about. \
            Every variable NAME above may instead be given as NAME_FILE=/path (docker secrets), except \
            those that are paths already (\(table.pathVariables.joined(separator: ", "))); any other \
            GATEWAY_*_FILE or TOTP_*_FILE is refused as unknown.
            """))
        Exit codes: 0 ok, 1 runtime failure, 2 configuration or usage error.
        """
    }
}
