import Platform
import Crypto
import TOTP
import TextSupport

/// One client token: a name (for logs and audit), the SHA-256 of its secret, and the labels it
/// may request (`*` for all). Only the hash is kept in memory.
///
/// ```swift
/// let t = try ClientToken(parsing: "bot:s3cret-value-of-32-chars....:certus,github", source: "GATEWAY_TOKENS entry 1")
/// t.allows("certus")   // true
/// ```
struct ClientToken: Sendable, Equatable {
    let name: String
    let secretHash: [UInt8]
    /// nil means every label (`*`).
    let labels: Set<String>?

    func allows(_ label: String) -> Bool { labels?.contains(label) ?? true }

    init(name: String, secretHash: [UInt8], labels: Set<String>?) {
        self.name = name
        self.secretHash = secretHash
        self.labels = labels
    }

    /// `name:secret:labels`, where secret may be `sha256:<64 hex>` and labels is `*` or `a,b,c`.
    init(parsing entry: String, source: String) throws(ConfigProblem) {
        // Split as bytes (':' is ASCII, so every piece is whole characters).
        let parts = entry.splitting(byte: UInt8(ascii: ":"))
        // A sha256: secret contributes one extra colon.
        let name: String
        let secret: String
        let labelText: String
        if parts.count == 4 && parts[1] == "sha256" {
            (name, secret, labelText) = (parts[0], "sha256:" + parts[2], parts[3])
        } else if parts.count == 3 {
            (name, secret, labelText) = (parts[0], parts[1], parts[2])
        } else {
            throw ConfigProblem(source: source, message: "expected name:secret:labels (labels is * or a comma-separated list)")
        }
        let trimmedName = name.trimmingCharacters(in: " \t")
        guard !trimmedName.isEmpty, trimmedName.utf8.allSatisfy({ Self.nameByte($0) }) else {
            throw ConfigProblem(source: source, message: "token name must be non-empty and use only A-Z a-z 0-9 . _ -")
        }
        let s = secret.trimmingCharacters(in: " \t")
        if s.hasPrefix("sha256:") {
            guard let hash = Crypto.unhex(String(s.dropFirst(7))), hash.count == 32 else {
                throw ConfigProblem(source: source, message: "token '\(trimmedName)': sha256: must be followed by 64 hex characters (printf %s TOKEN | sha256sum)")
            }
            self.secretHash = hash
        } else {
            guard !s.isEmpty else { throw ConfigProblem(source: source, message: "token '\(trimmedName)' has an empty secret") }
            // Guessable secrets are refused (a sha256: entry cannot be judged).
            if let problem = SecretStrength.problem(s, what: "the secret of token '\(trimmedName)'") {
                throw ConfigProblem(source: source, message: problem)
            }
            self.secretHash = Crypto.sha256(Array(s.utf8))
        }
        let l = labelText.trimmingCharacters(in: " \t")
        if l == "*" {
            self.labels = nil
        } else {
            var set = Set<String>()
            for item in l.splitting(byte: UInt8(ascii: ",")) where !item.isEmpty {
                do { set.insert(try SeedLabel(item.trimmingCharacters(in: " \t")).value) } catch {
                    throw ConfigProblem(source: source, message: "token '\(trimmedName)': \(error.description)")
                }
            }
            guard !set.isEmpty else {
                throw ConfigProblem(source: source, message: "token '\(trimmedName)' allows no labels; use * or a comma-separated list")
            }
            self.labels = set
        }
        self.name = trimmedName
    }

    private static func nameByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
    }
}
