import Platform
import Crypto
import TextSupport

/// The configured client tokens, in a table keyed by the SHA-256 digest of each secret: a
/// request hashes the presented secret once and looks the digest up, O(1) in the number of
/// tokens (comparing it with every token's hash in turn cost 3,000 constant-time comparisons a
/// request at 3,000 tokens).
///
/// Why a table keyed by digests leaks nothing an attacker can use: what the lookup's timing
/// could reveal (the hash bucket, how many leading bytes of two digests agree) is about the
/// digest of the attacker's own guess and the stored digests, never about the secrets. To turn
/// "the stored digest starts like the digest of my guess" into progress on a secret, one would
/// have to find secrets whose SHA-256 starts with chosen bytes (a preimage search), and the
/// secrets themselves have at least 128 bits (`SecretStrength`), so no guess comes near. This
/// is unlike comparing secrets byte by byte, where each matching byte narrows the next guess.
/// Swift's dictionary hashing is also seeded per process, so bucket positions are unknowable.
///
/// ```swift
/// let tokens = try TokenSet.load(from: env)
/// tokens.authenticate(bearer: "s3cret")?.name
/// ```
struct TokenSet: Sendable {
    let tokens: [ClientToken]
    /// Token files readable by others where that is only warned about (container secrets).
    let warnings: [ConfigProblem]
    private let byDigest: [SecretDigest: ClientToken]

    var isEmpty: Bool { tokens.isEmpty }

    /// `tokens` should have distinct secrets (`load` refuses duplicates); of two with the same
    /// secret, the first is the one that authenticates.
    init(tokens: [ClientToken], warnings: [ConfigProblem] = []) {
        self.tokens = tokens
        self.warnings = warnings
        var table: [SecretDigest: ClientToken] = [:]
        table.reserveCapacity(tokens.count)
        for t in tokens {
            guard let key = SecretDigest(t.secretHash), table[key] == nil else { continue }
            table[key] = t
        }
        self.byDigest = table
    }

    func authenticate(bearer secret: [UInt8]) -> ClientToken? {
        secret.withUnsafeBytes { authenticate(bearer: $0) }
    }

    /// The token whose secret is `secret`; the digest stays on the stack.
    func authenticate(bearer secret: UnsafeRawBufferPointer) -> ClientToken? {
        withUnsafeTemporaryAllocation(byteCount: SecretDigest.byteCount, alignment: 8) { digest in
            Crypto.sha256(secret, into: digest)
            guard let key = SecretDigest(UnsafeRawBufferPointer(digest)) else { return nil }
            return byDigest[key]
        }
    }

    /// `GATEWAY_TOKENS` (or `_FILE`, or the `tokens` credential): entries separated by `;` or
    /// newlines, `#` comments; plus the original project's `API_KEY` as a token named `api-key`
    /// allowed every label.
    static func load(from env: Environment) throws(ConfigError) -> TokenSet {
        var problems: [ConfigProblem] = []
        var warnings: [ConfigProblem] = []
        var tokens: [ClientToken] = []
        // Where each token was given, for errors (parallel to `tokens`).
        var tokenSources: [String] = []
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
            // Split as bytes: splitting by Character kept "\r\n" (one Character) from ending an entry.
            for raw in source.value.utf8.split(whereSeparator: { $0 == UInt8(ascii: ";") || $0 == 0x0A }) {
                let entry = String(Substring(raw)).trimmingCharacters(in: " \t\r")
                if entry.isEmpty || entry.hasPrefix("#") { continue }
                index += 1
                let entrySource = "\(source.source) entry \(index)"
                do {
                    tokens.append(try ClientToken(parsing: entry, source: entrySource))
                    tokenSources.append(entrySource)
                } catch {
                    problems.append(error)
                }
            }
        }
        if let key = apiKey {
            if let problem = SecretStrength.problem(key.value, what: "the API key") {
                problems.append(ConfigProblem(source: key.source, message: problem))
            }
            tokens.append(ClientToken(name: "api-key", secretHash: Crypto.sha256(Array(key.value.utf8)), labels: nil))
            tokenSources.append(key.source)
        }

        // One pass with a table of names and one of digests: O(n) at any number of tokens. The
        // errors name both entries' sources (variable or file, entry number), never a secret.
        var firstByName: [String: Int] = [:]
        var firstByDigest: [SecretDigest: Int] = [:]
        firstByName.reserveCapacity(tokens.count)
        firstByDigest.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() {
            if let first = firstByName[t.name] {
                problems.append(ConfigProblem(source: tokenSources[i],
                    message: "token name '\(t.name)' is used twice (first in \(tokenSources[first])); names must be unique"))
            } else {
                firstByName[t.name] = i
            }
            guard let digest = SecretDigest(t.secretHash) else { continue }
            if let first = firstByDigest[digest] {
                problems.append(ConfigProblem(source: tokenSources[i],
                    message: "tokens '\(tokens[first].name)' (\(tokenSources[first])) and '\(t.name)' (\(tokenSources[i])) have the same secret; give each client its own (openssl rand -hex 32)"))
            } else {
                firstByDigest[digest] = i
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return TokenSet(tokens: tokens, warnings: warnings)
    }
}
