#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Platform

/// Entry point of `totp-gateway`: parses the command line and runs the chosen command.
@main
enum GatewayMain {
    static func main() {
        // A log reader that went away (stderr on a pipe) must not kill the server: writes then
        // fail with EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        let command: GatewayCommand
        do { command = try GatewayCommand.parse(Array(CommandLine.arguments.dropFirst())) } catch {
            printError("totp-gateway: \(error.description)")
            exit(2)
        }
        switch command {
        case .help:
            print(HelpText.gateway)
        case .version:
            print("totp-gateway \(ProductVersion.current)")
        case .healthcheck(let url):
            exit(HealthProbe.run(url: url))
        case .sealSeeds(let input, let output, let keyFile):
            do {
                let n = try SealSeedsCommand.run(input: input, output: output, keyFile: keyFile)
                print("sealed \(n) seeds into \(output)")
            } catch {
                printError("totp-gateway seal-seeds: refused:\n\(error.description)")
                exit(2)
            }
        case .checkConfig(let listen):
            exit(checkConfig(listen: listen))
        case .serve(let listen):
            GatewayRunner.run(listen: listen)
        }
    }

    static func checkConfig(listen: String?) -> Int32 {
        let env = Environment.current()
        var problems: [ConfigProblem] = []
        var config: GatewayConfiguration? = nil
        var snapshot: GatewaySnapshot? = nil
        do { config = try GatewayConfiguration.load(environment: env, listenOverride: listen) } catch { problems += error.problems }
        do { snapshot = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: 0) } catch { problems += error.problems }
        if let path = config?.auditFile, let problem = auditFileProblem(path) {
            problems.append(ConfigProblem(source: "GATEWAY_AUDIT_FILE", message: problem))
        }
        if !problems.isEmpty {
            printError("totp-gateway: configuration has \(problems.count) problem(s):\n" + ConfigError(problems).description)
            return 2
        }
        for w in snapshot!.warnings + config!.warnings + snapshot!.fileWarnings { printError("warning: \(w)") }
        print("configuration ok: listen \(config!.listen), \(snapshot!.seeds.count) labels, \(snapshot!.tokens.tokens.count) tokens, config \(snapshot!.seeds.fingerprint)")
        if snapshot!.tokens.isEmpty && !config!.insecureNoAuth {
            printError("warning: no client tokens: /code refuses every request (set GATEWAY_TOKENS)")
        }
        return 0
    }

    /// Why the audit file could not be opened for appending, checked without creating it.
    static func auditFileProblem(_ path: String) -> String? {
        if access(path, F_OK) == 0 {
            return access(path, W_OK) == 0 ? nil : "\(path) is not writable by this user"
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        return access(directory, W_OK | X_OK) == 0 ? nil : "directory \(directory) does not exist or is not writable, so \(path) cannot be created"
    }

    static func printError(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
