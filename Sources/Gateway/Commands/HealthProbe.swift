import Shared

/// `--healthcheck URL`: a one-shot GET used as the container health probe (the runtime image
/// has no curl binary, but the gateway links libcurl anyway).
enum HealthProbe {
    static func run(url: String) -> Int32 {
        CurlRuntime.initializeOnce()
        let client = HTTPClient(options: HTTPClientOptions(userAgent: "totp-gateway-healthcheck/\(GatewayApp.version)"))
        do {
            let response = try client.perform(HTTPClientRequest(method: "GET", url: url, timeout: .seconds(3), connectTimeout: .seconds(2)))
            if response.status == 200 { return 0 }
            GatewayMain.printError("healthcheck: \(url) answered \(response.status)")
            return 1
        } catch {
            GatewayMain.printError("healthcheck: \(url): \(error)")
            return 1
        }
    }
}
