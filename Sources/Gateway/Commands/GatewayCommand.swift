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

    /// A command-line mistake, with the usage hint.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ args: [String]) throws(UsageError) -> GatewayCommand {
        if args.first == "seal-seeds" {
            var positional: [String] = []
            var keyFile: String? = nil
            var i = 1
            while i < args.count {
                if args[i] == "--key-file" {
                    guard i + 1 < args.count else { throw UsageError(description: "--key-file needs a path") }
                    keyFile = args[i + 1]
                    i += 2
                } else if args[i].hasPrefix("--key-file=") {
                    keyFile = String(args[i].dropFirst("--key-file=".count))
                    i += 1
                } else if args[i] == "-h" || args[i] == "--help" {
                    return .help
                } else if args[i].hasPrefix("-") {
                    throw UsageError(description: "unknown option \(args[i]) for seal-seeds")
                } else {
                    positional.append(args[i])
                    i += 1
                }
            }
            guard positional.count == 2, let keyFile else {
                throw UsageError(description: "usage: totp-gateway seal-seeds IN OUT --key-file KEY")
            }
            return .sealSeeds(input: positional[0], output: positional[1], keyFile: keyFile)
        }
        var listen: String? = nil
        var check = false
        var i = 0
        while i < args.count {
            let a = args[i]
            switch a {
            case "-h", "--help": return .help
            case "--version": return .version
            case "--check-config": check = true
            case "--listen":
                guard i + 1 < args.count else { throw UsageError(description: "--listen needs HOST:PORT") }
                listen = args[i + 1]
                i += 1
            case "--healthcheck":
                guard i + 1 < args.count else { throw UsageError(description: "--healthcheck needs a URL, e.g. http://127.0.0.1:8080/healthz") }
                return .healthcheck(url: args[i + 1])
            default:
                if a.hasPrefix("--listen=") {
                    listen = String(a.dropFirst("--listen=".count))
                } else {
                    throw UsageError(description: "unknown argument '\(a)'; see totp-gateway --help")
                }
            }
            i += 1
        }
        return check ? .checkConfig(listen: listen) : .serve(listen: listen)
    }
}
