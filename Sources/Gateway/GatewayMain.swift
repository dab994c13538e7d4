#if canImport(Glibc)
import Glibc
#endif
import Platform

/// Entry point of `totp-gateway`: parses the command line and runs the chosen command. Serving
/// never returns (its lifecycle exits); every other command ends here with its exit code.
@main
enum GatewayMain {
    static func main() {
        // A log reader that went away (stderr on a pipe) must not kill the server: writes then
        // fail with EPIPE instead.
        signal(SIGPIPE, SIG_IGN)
        exit(run(Array(CommandLine.arguments.dropFirst())))
    }

    /// Runs the command `arguments` ask for; returns its exit code (0 ok, 1 failure, 2 usage or
    /// configuration error).
    static func run(_ arguments: [String]) -> Int32 {
        let command: GatewayCommand
        do { command = try GatewayCommand.parse(arguments) } catch {
            StandardError.print("totp-gateway: \(error.description)")
            return 2
        }
        switch command {
        case .help:
            print(HelpText.gateway)
        case .version:
            print("totp-gateway \(ProductVersion.current)")
        case .healthcheck(let url):
            return HealthProbe.run(url: url)
        case .sealSeeds(let input, let output, let keyFile):
            do {
                let n = try SealSeedsCommand.run(input: input, output: output, keyFile: keyFile)
                print("sealed \(n) seeds into \(output)")
            } catch {
                StandardError.print("totp-gateway seal-seeds: refused:\n\(error.description)")
                return 2
            }
        case .checkConfig(let listen):
            return checkConfig(listen: listen)
        case .serve(let listen):
            GatewayRunner.run(listen: listen)
        }
        return 0
    }

    static func checkConfig(listen: String?) -> Int32 {
        let env = Environment.current()
        var problems: [ConfigProblem] = []
        var config: GatewayConfiguration? = nil
        var snapshot: GatewaySnapshot? = nil
        do { config = try GatewayConfiguration.load(environment: env, listenOverride: listen) } catch { problems += error.problems }
        do { snapshot = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: 0) } catch { problems += error.problems }
        if let path = config?.auditFile, let problem = FileIO.writableProblem(path) {
            problems.append(ConfigProblem(source: "GATEWAY_AUDIT_FILE", message: problem))
        }
        if !problems.isEmpty {
            StandardError.print("totp-gateway: configuration has \(problems.count) problem(s):\n" + ConfigError(problems).description)
            return 2
        }
        for w in snapshot!.warnings + config!.warnings + snapshot!.fileWarnings { StandardError.print("warning: \(w)") }
        print("configuration ok: listen \(config!.listen), \(snapshot!.seeds.count) labels, \(snapshot!.tokens.tokens.count) tokens, config \(snapshot!.seeds.fingerprint)")
        if snapshot!.tokens.isEmpty && !config!.insecureNoAuth {
            StandardError.print("warning: no client tokens: /code refuses every request (set GATEWAY_TOKENS)")
        }
        return 0
    }
}
