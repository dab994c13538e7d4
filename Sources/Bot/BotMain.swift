#if canImport(Glibc)
import Glibc
#endif
import CurlHTTP
import Platform

/// Entry point of `totp-bot`: parses the command line and runs the chosen command.
/// Exit codes: 0 ok, 1 runtime failure, 2 configuration or usage error, 3 Zulip credentials rejected.
///
/// ```sh
/// ZULIP_SITE=https://chat.example.com ZULIP_EMAIL=bot@... ZULIP_API_KEY_FILE=key \
/// GATEWAY_URLS=http://127.0.0.1:8000 GATEWAY_TOKEN_FILE=tok BOT_ACL='alice@example.com:*' totp-bot
/// ```
@main
enum BotMain {
    static func main() {
        let command: BotCommandLine
        do { command = try BotCommandLine.parse(Array(CommandLine.arguments.dropFirst())) } catch {
            printError("totp-bot: \(error.description)")
            exit(2)
        }
        switch command {
        case .help:
            print(HelpText.bot)
        case .version:
            print("totp-bot \(ProductVersion.current)")
        case .healthcheck(let url):
            exit(healthcheck(url: url))
        case .checkConfig(let zuliprc):
            let config = load(zuliprc: zuliprc)
            print("configuration ok: site \(config.zulipSite), \(config.gatewayURLs.count) gateway URL(s), \(config.acl.count) ACL entries, lock \(config.lockFile)")
            if config.acl.isEmpty { printError("warning: the access list is empty: nobody will get a code (set BOT_ACL or BOT_ACL_FILE)") }
        case .run(let zuliprc):
            BotRunner.run(config: load(zuliprc: zuliprc))
        }
    }

    static func load(zuliprc: String?) -> BotConfiguration {
        do { return try BotConfiguration.load(environment: .current(), zuliprcPath: zuliprc) } catch {
            printError("totp-bot: configuration has \(error.problems.count) problem(s):\n\(error.description)")
            exit(2)
        }
    }

    static func healthcheck(url: String) -> Int32 {
        CurlRuntime.initializeOnce()
        let client = HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot-healthcheck/\(ProductVersion.current)"))
        do {
            let response = try client.perform(HTTPClientRequest(method: "GET", url: url, timeout: .seconds(3), connectTimeout: .seconds(2)))
            if response.status == 200 { return 0 }
            printError("healthcheck: \(url) answered \(response.status)")
            return 1
        } catch {
            printError("healthcheck: \(url): \(error)")
            return 1
        }
    }

    static func printError(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
