import Platform

/// What `totp-bot` needs at start besides valid settings, checked without side effects for
/// `--check-config`, so that it refuses exactly what a start would: the lock files it must open
/// (or create) and the state file it must read (with the lock files only), and `BOT_LISTEN`, which it must bind. Nothing is
/// created, locked or left listening.
///
/// ```swift
/// let problems = BotStartChecks.problems(config)   // [] when totp-bot would start
/// ```
enum BotStartChecks {
    static func problems(_ config: BotConfiguration) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        // With etcd there is no lock file and no state file; etcd is reached at start.
        if config.etcd == nil { problems += fileProblems(config) }
        if let listen = config.listen, let problem = bindProblem(listen) {
            problems.append(ConfigProblem(source: "BOT_LISTEN", message: problem))
        }
        return problems
    }

    /// The lock files and the state file of `BOT_ELECTION=lockfile`.
    private static func fileProblems(_ config: BotConfiguration) -> [ConfigProblem] {
        var problems: [ConfigProblem] = []
        var locks = [(path: config.lockFile, source: "BOT_LOCK_FILE")]
        let stateLock = LeaderStateStore.lockPath(in: config.stateDir)
        if stateLock != config.lockFile { locks.append((stateLock, "BOT_STATE_DIR lock")) }
        for (path, source) in locks {
            if let problem = FileIO.writableProblem(path) {
                problems.append(ConfigProblem(source: source, message: "\(problem); create its directory and make it writable for the bot"))
            }
        }
        do { _ = try LeaderStateStore(directory: config.stateDir).load() } catch { problems.append(error) }
        return problems
    }

    /// Why `address` cannot be listened on now (nil: it can): bound and closed at once.
    static func bindProblem(_ address: ListenAddress) -> String? {
        do {
            let listener = try SocketListener(address: SocketAddress(ipLiteral: address.host, port: address.port), backlog: 1)
            listener.close()
            return nil
        } catch {
            return "cannot listen on \(address): \(error)"
        }
    }
}
