import TOTP
import Crypto
import Platform
import TextSupport

/// Envelope-encrypted seeds file. A random 256-bit data key (DEK) per file encrypts each
/// entry with AES-256-GCM; the DEK itself is wrapped by the key-encryption key (KEK) read
/// from `GATEWAY_SEEDS_KEY_FILE` or the `seeds-key` credential. Labels stay readable (they
/// are public) but are bound to their entry as additional authenticated data, together with
/// the entry's position and the entry count, so renaming, reordering, dropping or splicing
/// entries is detected.
///
/// ```
/// totp-sealed-seeds v1 entries=2
/// dek <base64(nonce|wrapped DEK|tag)>
/// certus <base64(nonce|ciphertext|tag)>
/// github <base64(...)>
/// ```
///
/// ```swift
/// let text = try SealedSeedsFile.seal(lines, kek: key)
/// let lines = try SealedSeedsFile.open(text, path: "seeds.sealed", kek: key)
/// ```
public enum SealedSeedsFile {
    public static let magic = "totp-sealed-seeds"
    public static let version = "v1"

    /// True when `text` starts like a sealed file.
    public static func isSealed(_ text: String) -> Bool { text.hasPrefix(magic + " ") }

    static func entryAAD(index: Int, count: Int, label: String) -> [UInt8] {
        Array("\(magic) \(version) entry=\(index)/\(count) label=\(label)".utf8)
    }

    static func dekAAD(count: Int) -> [UInt8] { Array("\(magic) \(version) dek entries=\(count)".utf8) }

    /// Seals already-validated seeds-file lines.
    public static func seal(_ lines: [SeedsFile.Line], kek: [UInt8]) throws(ConfigProblemMessage) -> String {
        let dek = Crypto.randomBytes(AESGCM.keyLength)
        var out = "\(magic) \(version) entries=\(lines.count)\n"
        do {
            out += "dek " + Base64.encode(try AESGCM.seal(dek, key: kek, aad: dekAAD(count: lines.count))) + "\n"
            for (i, line) in lines.enumerated() {
                let box = try AESGCM.seal(Array(line.value.utf8), key: dek, aad: entryAAD(index: i, count: lines.count, label: line.label))
                out += "\(line.label) \(Base64.encode(box))\n"
            }
        } catch {
            throw ConfigProblemMessage("sealing failed: \(error.description)")
        }
        return out
    }

    /// Opens a sealed file; any mismatch is refused with the line that failed.
    public static func open(_ text: String, path: String, kek: [UInt8]) throws(ConfigError) -> [SeedsFile.Line] {
        var rows = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        func fail(_ line: Int, _ message: String, label: String? = nil) -> ConfigError {
            ConfigError([ConfigProblem(source: "\(path):\(line)", label: label, message: message)])
        }
        guard !rows.isEmpty else { throw fail(1, "empty sealed seeds file") }
        let header = rows.removeFirst().split(separator: " ")
        guard header.count == 3, header[0] == magic else { throw fail(1, "not a sealed seeds file (bad header)") }
        guard header[1] == version else {
            throw fail(1, "sealed seeds version '\(printable(String(header[1])))' is not supported by this totp-gateway (it reads \(version)); upgrade it")
        }
        guard header[2].hasPrefix("entries="), let count = Int(header[2].dropFirst("entries=".count)), count >= 0 else {
            throw fail(1, "bad entry count in the header")
        }
        guard let dekRow = rows.first, dekRow.hasPrefix("dek ") else { throw fail(2, "missing 'dek' line") }
        rows.removeFirst()
        guard rows.count == count else {
            throw fail(1, "the header says \(count) entries but the file holds \(rows.count): the file was truncated or modified")
        }
        let dek: [UInt8]
        do {
            guard let box = Base64.decode(String(dekRow.dropFirst(4))) else { throw AESGCM.Failure(description: "bad base64") }
            dek = try AESGCM.open(box, key: kek, aad: dekAAD(count: count))
        } catch {
            throw fail(2, "cannot unwrap the data key: wrong key file, or the file was modified (\(error))")
        }
        var result: [SeedsFile.Line] = []
        for (i, row) in rows.enumerated() {
            let lineNumber = i + 3
            let parts = row.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { throw fail(lineNumber, "expected 'label base64'") }
            let label = String(parts[0])
            do {
                guard let box = Base64.decode(String(parts[1])) else { throw AESGCM.Failure(description: "bad base64") }
                let plain = try AESGCM.open(box, key: dek, aad: entryAAD(index: i, count: count, label: label))
                guard let value = String(validating: plain, as: UTF8.self) else { throw AESGCM.Failure(description: "not UTF-8") }
                result.append(SeedsFile.Line(label: label, value: value, line: lineNumber))
            } catch {
                throw fail(lineNumber, "entry does not authenticate: the file was modified (\(error))", label: label)
            }
        }
        return result
    }

    /// The header's version word, cut short and stripped of control characters (the header holds
    /// no secret; the entries are sealed).
    private static func printable(_ s: String) -> String {
        let cleaned = String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return cleaned.count > 40 ? String(cleaned.prefix(40)) + "…" : cleaned
    }

    /// Reads a key-encryption key: 64 hex characters (`openssl rand -hex 32`), base64 of 32 bytes,
    /// or 32 raw bytes that are not text. `source` names where the path came from
    /// (`GATEWAY_SEEDS_KEY_FILE`, `credential seeds-key`, `--key-file`) for every error.
    public static func readKey(path: String, source: String) throws(ConfigProblem) -> [UInt8] {
        var warnings: [ConfigProblem] = []
        return try readKey(path: path, source: source, checkMode: true, warnings: &warnings)
    }

    /// `readKey`, also refusing a key file that group or others may access (`FilePermissions`;
    /// `checkMode: false` for a systemd credential) and adding mode warnings to `warnings`.
    public static func readKey(path: String, source: String, checkMode: Bool, warnings: inout [ConfigProblem]) throws(ConfigProblem) -> [UInt8] {
        let bytes: [UInt8]
        do {
            let read = try FileIO.readStable(path, maxBytes: 4096)
            bytes = read.bytes
            if checkMode {
                var problems: [ConfigProblem] = []
                FilePermissions.record(FilePermissions.keyFinding(path: path, mode: read.version.mode, what: "the seeds key"),
                    source: source, problems: &problems, warnings: &warnings)
                if let first = problems.first { throw first }
            }
        } catch let error as FileIO.Failure {
            throw .unreadableFile(error, variable: source)
        } catch let problem as ConfigProblem {
            throw problem
        } catch {
            throw ConfigProblem(source: source, message: "\(error)")
        }
        if let text = String(validating: bytes, as: UTF8.self) {
            let trimmed = text.trimmingSpaces()
            if trimmed.utf8.count == 64, let key = Crypto.unhex(trimmed) { return key }
            if let key = Base64.decode(trimmed), key.count == 32 { return key }
        }
        let create = "create a key with: openssl rand -hex 32 > \(path)"
        if bytes.count == 32 {
            // 32 random bytes are all printable text about once in 10^14; 32 typed characters
            // (a passphrase, 32 hex digits) would silently become a weak AES key.
            guard bytes.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { return bytes }
            throw ConfigProblem(source: source,
                message: "\(path) holds 32 characters of text, not a key (a passphrase is not an AES key); \(create)")
        }
        throw ConfigProblem(source: source,
            message: "\(path) must hold a 256-bit key: 64 hex characters, base64 of 32 bytes, or 32 raw random bytes; \(create)")
    }
}
