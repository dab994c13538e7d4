/// What the command line asked for.
///
/// ```swift
/// try BotCommandLine.parse(["--zuliprc", "/etc/zuliprc"])   // .run(zuliprc: "/etc/zuliprc")
/// ```
enum BotCommandLine: Equatable {
    case run(zuliprc: String?)
    case checkConfig(zuliprc: String?)
    case healthcheck(url: String)
    case help
    case version

    /// A command-line mistake (exit 2).
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ args: [String]) throws(UsageError) -> BotCommandLine {
        var zuliprc: String? = nil
        var check = false
        var i = 0
        while i < args.count {
            let a = args[i]
            switch a {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--check-config": check = true
            case "--zuliprc", "--config-file":
                guard i + 1 < args.count else { throw UsageError(description: "\(a) needs a path to a zuliprc file") }
                zuliprc = args[i + 1]
                i += 1
            case "--healthcheck":
                guard i + 1 < args.count else { throw UsageError(description: "--healthcheck needs a URL, e.g. http://127.0.0.1:9101/healthz") }
                return .healthcheck(url: args[i + 1])
            default:
                if a.hasPrefix("--zuliprc=") {
                    zuliprc = String(a.dropFirst("--zuliprc=".count))
                } else {
                    throw UsageError(description: "unknown argument '\(a)'; see totp-bot --help")
                }
            }
            i += 1
        }
        return check ? .checkConfig(zuliprc: zuliprc) : .run(zuliprc: zuliprc)
    }
}
