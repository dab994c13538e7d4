import Platform

/// What the command line asked for.
///
/// ```swift
/// try GatewayCommand.parse(["--listen", "127.0.0.1:9000"])   // .serve(listen: "127.0.0.1:9000")
/// ```
enum GatewayCommand: Equatable {
    case serve(listen: String?)
    case checkConfig(listen: String?)
    case healthcheck(url: String)
    case sealSeeds(input: String, output: String, keyFile: String)
    case help
    case version

    static func parse(_ arguments: [String]) throws(CommandLineArguments.UsageError) -> GatewayCommand {
        if arguments.first == "seal-seeds" { return try parseSealSeeds(Array(arguments.dropFirst())) }
        var listen: String? = nil
        var check = false
        var words = CommandLineArguments(arguments)
        while let word = words.next() {
            if let address = try words.option("--listen", in: word, missing: "--listen needs HOST:PORT") {
                listen = address
                continue
            }
            if let url = try words.option("--healthcheck", in: word, missing: "--healthcheck needs a URL, e.g. http://127.0.0.1:8080/healthz") {
                return .healthcheck(url: url)
            }
            switch word {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--check-config": check = true
            default: throw CommandLineArguments.UsageError("unknown argument '\(word)'; see totp-gateway --help")
            }
        }
        return check ? .checkConfig(listen: listen) : .serve(listen: listen)
    }

    /// `seal-seeds IN OUT --key-file KEY`.
    private static func parseSealSeeds(_ arguments: [String]) throws(CommandLineArguments.UsageError) -> GatewayCommand {
        var positional: [String] = []
        var keyFile: String? = nil
        var words = CommandLineArguments(arguments)
        while let word = words.next() {
            if let path = try words.option("--key-file", in: word, missing: "--key-file needs a path") {
                keyFile = path
            } else if word == "-h" || word == "--help" {
                return .help
            } else if word.hasPrefix("-") {
                throw CommandLineArguments.UsageError("unknown option \(word) for seal-seeds")
            } else {
                positional.append(word)
            }
        }
        guard positional.count == 2, let keyFile else {
            throw CommandLineArguments.UsageError("usage: totp-gateway seal-seeds IN OUT --key-file KEY")
        }
        return .sealSeeds(input: positional[0], output: positional[1], keyFile: keyFile)
    }
}
