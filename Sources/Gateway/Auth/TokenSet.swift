import Platform
import Crypto
import TextSupport

/// The configured client tokens. Lookup hashes the presented secret once and compares it with
/// every token's hash in constant time, without stopping at the first match, so timing reveals
/// neither which token matched nor how much of it.
///
/// ```swift
/// let tokens = try TokenSet.load(from: env)
/// tokens.authenticate(bearer: "s3cret")?.name
/// ```
struct TokenSet: Sendable {
    let tokens: [ClientToken]
    /// Token files readable by others where that is only warned about (container secrets).
    let warnings: [ConfigProblem]

    var isEmpty: Bool { tokens.isEmpty }

    init(tokens: [ClientToken], warnings: [ConfigProblem] = []) {
        self.tokens = tokens
        self.warnings = warnings
    }

    func authenticate(bearer secret: [UInt8]) -> ClientToken? {
        secret.withUnsafeBytes { authenticate(bearer: $0) }
    }

    /// The token whose secret is `secret`; the digest stays on the stack.
    func authenticate(bearer secret: UnsafeRawBufferPointer) -> ClientToken? {
        withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { digest in
            Crypto.sha256(secret, into: digest)
            var found: ClientToken? = nil
            for t in tokens where Crypto.constantTimeEqual(t.secretHash, UnsafeRawBufferPointer(digest)) {
                if found == nil { found = t }
            }
            return found
        }
    }

    /// `GATEWAY_TOKENS` (or `_FILE`, or the `tokens` credential): entries separated by `;` or
    /// newlines, `#` comments; plus the original project's `API_KEY` as a token named `api-key`
    /// allowed every label.
    static func load(from env: Environment) throws(ConfigError) -> TokenSet {
        var problems: [ConfigProblem] = []
        var warnings: [ConfigProblem] = []
        var tokens: [ClientToken] = []
        var sources: [Environment.Sourced] = []
        // Secrets given as files must be private (the tokens credential is systemd's business).
        for (setting, what) in [(GatewaySettings.tokens, "client tokens"), (GatewaySettings.apiKey, "the API key")] {
            let name = setting.info.name + "_FILE"
            guard let path = env[name], !path.isEmpty, let mode = FilePermissions.mode(of: path) else { continue }
            FilePermissions.record(FilePermissions.keyFinding(path: path, mode: mode, what: what), source: name, problems: &problems, warnings: &warnings)
        }
        var reader = SettingsReader(env)
        if let v = reader.sourced(GatewaySettings.tokens) { sources.append(v) }
        let credentials = reader.optional(GatewaySettings.credentials)
        let apiKey = reader.sourced(GatewaySettings.apiKey)
        problems += reader.problems
        if let dir = credentials {
            let source = "credential tokens (\(dir))"
            do {
                let text = try FileIO.readText(dir + "/tokens", maxBytes: 1 << 20)
                sources.append(Environment.Sourced(value: text, source: source))
            } catch {
                // Only a missing credential is "no tokens from systemd"; an unreadable one must not
                // quietly leave /code refusing everyone (or serving on the other sources alone).
                if !error.isNotFound {
                    problems.append(ConfigProblem(source: source, message: "\(error.description); fix the LoadCredential=tokens file or remove it"))
                }
            }
        }
        for source in sources {
            var index = 0
            for raw in source.value.split(whereSeparator: { $0 == ";" || $0 == "\n" }) {
                let entry = String(raw).trimmingCharacters(in: " \t\r")
                if entry.isEmpty || entry.hasPrefix("#") { continue }
                index += 1
                do { tokens.append(try ClientToken(parsing: entry, source: "\(source.source) entry \(index)")) } catch {
                    problems.append(error)
                }
            }
        }
        if let key = apiKey {
            if let problem = SecretStrength.problem(key.value, what: "the API key") {
                problems.append(ConfigProblem(source: key.source, message: problem))
            }
            tokens.append(ClientToken(name: "api-key", secretHash: Crypto.sha256(Array(key.value.utf8)), labels: nil))
        }

        var names = Set<String>()
        for (i, t) in tokens.enumerated() {
            if !names.insert(t.name).inserted {
                problems.append(ConfigProblem(source: "GATEWAY_TOKENS", message: "token name '\(t.name)' is used twice; names must be unique"))
            }
            for other in tokens[..<i] where Crypto.constantTimeEqual(other.secretHash, t.secretHash) {
                problems.append(ConfigProblem(source: "GATEWAY_TOKENS", message: "tokens '\(other.name)' and '\(t.name)' have the same secret; give each client its own"))
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return TokenSet(tokens: tokens, warnings: warnings)
    }
}
