/// Problems with a file whose path came from a variable.
///
/// ```swift
/// do { _ = try FileIO.read(path) } catch { throw ConfigProblem.unreadableFile(error, variable: "GATEWAY_SEEDS_KEY_FILE") }
/// // GATEWAY_SEEDS_KEY_FILE: /etc/totp/seeds.key: cannot open: No such file or directory
/// // GATEWAY_SEEDS_KEY_FILE: does not name a readable file (it must be a path, ...)   when it held the key
/// ```
extension ConfigProblem {
    /// Names `variable` and, when it looks like a path, the path. A value that does not look like a
    /// path (no leading `/`, `./` or `../`) is not echoed: an operator who put a seed, key or token
    /// in a `*_FILE` variable would otherwise see it printed as a file name on stderr and in logs.
    public static func unreadableFile(_ failure: FileIO.Failure, variable: String) -> ConfigProblem {
        if FileIO.looksLikePath(failure.path) { return ConfigProblem(source: variable, message: failure.description) }
        return ConfigProblem(source: variable,
            message: "\(variable) does not name a readable file (it must be a path, e.g. /run/secrets/NAME or ./NAME; \(failure.reason)); its value is not shown in case it is a secret")
    }
}
