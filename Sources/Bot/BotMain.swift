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
        // A log reader or peer that went away must not kill the bot: writes fail with EPIPE.
        signal(SIGPIPE, SIG_IGN)
        exit(run(Array(CommandLine.arguments.dropFirst())))
    }

    /// Runs the command `arguments` ask for; returns its exit code. Running the bot never
    /// returns (its lifecycle exits).
    static func run(_ arguments: [String]) -> Int32 {
        let command: BotCommandLine
        do { command = try BotCommandLine.parse(arguments) } catch {
            StandardError.print("totp-bot: \(error.description)")
            return 2
        }
        switch command {
        case .help:
            print(HelpText.bot)
        case .version:
            print("totp-bot \(ProductVersion.current)")
        case .healthcheck(let url):
            return healthcheck(url: url)
        case .checkConfig(let zuliprc):
            return checkConfig(zuliprc: zuliprc)
        case .run(let zuliprc):
            BotRunner.run(zuliprc: zuliprc)
        }
        return 0
    }

    /// Refuses (2) what `totp-bot` would refuse at start: the settings, then what they name
    /// (`BotStartChecks`); nothing is created, locked or bound for long.
    static func checkConfig(zuliprc: String?) -> Int32 {
        let config: BotConfiguration
        do { config = try BotConfiguration.load(environment: .current(), zuliprcPath: zuliprc) } catch {
            StandardError.print("totp-bot: configuration has \(error.problems.count) problem(s):\n\(error.description)")
            return 2
        }
        let problems = BotStartChecks.problems(config)
        guard problems.isEmpty else {
            StandardError.print("totp-bot: configuration has \(problems.count) problem(s):\n\(ConfigError(problems).description)")
            return 2
        }
        print("configuration ok: site \(config.zulipSite), \(config.gatewayURLs.count) gateway URL(s), \(config.acl.count) ACL entries, \(config.policies.count) access policies, lock \(config.lockFile)")
        if config.acl.isEmpty { StandardError.print("warning: the access list is empty: nobody will get a code (set BOT_ACL or BOT_ACL_FILE)") }
        return 0
    }

    static func healthcheck(url: String) -> Int32 {
        CurlRuntime.initializeOnce()
        let client = HTTPClient(options: HTTPClientOptions(userAgent: "totp-bot-healthcheck/\(ProductVersion.current)"))
        do {
            let response = try client.perform(HTTPClientRequest(method: "GET", url: url, timeout: .seconds(3), connectTimeout: .seconds(2)))
            if response.status == 200 { return 0 }
            StandardError.print("healthcheck: \(url) answered \(response.status)")
            return 1
        } catch {
            StandardError.print("healthcheck: \(url): \(error)")
            return 1
        }
    }
}
