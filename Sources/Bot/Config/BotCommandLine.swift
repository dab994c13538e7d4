import Platform

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

    static func parse(_ arguments: [String]) throws(CommandLineArguments.UsageError) -> BotCommandLine {
        var zuliprc: String? = nil
        var check = false
        var words = CommandLineArguments(arguments)
        while let word = words.next() {
            // --config-file: the name python-zulip-api's tools use.
            if let path = try words.option("--zuliprc", in: word, missing: "--zuliprc needs a path to a zuliprc file") {
                zuliprc = path
                continue
            }
            if let path = try words.option("--config-file", in: word, missing: "--config-file needs a path to a zuliprc file") {
                zuliprc = path
                continue
            }
            if let url = try words.option("--healthcheck", in: word, missing: "--healthcheck needs a URL, e.g. http://127.0.0.1:9101/healthz") {
                return .healthcheck(url: url)
            }
            switch word {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--check-config": check = true
            default: throw CommandLineArguments.UsageError("unknown argument '\(word)'; see totp-bot --help")
            }
        }
        return check ? .checkConfig(zuliprc: zuliprc) : .run(zuliprc: zuliprc)
    }
}
