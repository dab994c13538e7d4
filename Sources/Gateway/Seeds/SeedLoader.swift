#if canImport(Glibc)
import Glibc
#endif
import TOTP
import Crypto
import Platform
import TextSupport

/// Loads seeds from every configured source, validates them completely and reports every
/// problem at once (never a secret):
/// - `TOTP_SEED_<LABEL>` (or `TOTP_SEED_<LABEL>_FILE`): base32 or an otpauth URI; the label is
///   the suffix lower-cased with `_` mapped to `-`.
/// - `LABELS="label:seed,label2:seed2"` (the original project's format) with `TOTP_PERIOD` and
///   `TOTP_DIGITS`, which set the defaults of every plain base32 seed from the environment.
/// - `GATEWAY_SEEDS_FILE`: a seeds file, plain or sealed (then `GATEWAY_SEEDS_KEY_FILE`).
/// - `$CREDENTIALS_DIRECTORY` (systemd): `seeds` (a seeds file), `seeds-key`, `totp-seed-<label>`.
///
/// ```swift
/// let result = try SeedLoader(environment: .current()).load()
/// for w in result.warnings { log.warning("weak_seed", ["label": .string(w.label ?? "")]) }
/// ```
public struct SeedLoader: Sendable {
    public let environment: Environment

    public init(environment: Environment) { self.environment = environment }

    /// The loaded store and non-fatal findings: seeds under 128 bits (`warnings`) and files
    /// readable by group or others (`fileWarnings`, see `FilePermissions`).
    public struct Result: Sendable {
        public let store: SeedStore
        public let warnings: [ConfigProblem]
        public let fileWarnings: [ConfigProblem]
    }

    /// A seed found in some source, not yet parsed or checked for duplicates.
    private struct Candidate {
        let label: String
        let text: String
        let source: SeedSource
        let defaults: TOTPParameters
    }

    public func load() throws(ConfigError) -> Result {
        var problems: [ConfigProblem] = []
        var fileWarnings: [ConfigProblem] = []
        var candidates: [Candidate] = []

        let envDefaults = envParameters(&problems)
        collectSeedVariables(into: &candidates, defaults: envDefaults, problems: &problems)
        collectLabelsList(into: &candidates, defaults: envDefaults, problems: &problems)
        // Seeds given through NAME_FILE variables are plaintext seed files too.
        for name in environment.values.keys.sorted() where name.hasSuffix("_FILE") && (name.hasPrefix("TOTP_SEED_") || name == "LABELS_FILE") {
            guard let path = environment[name], !path.isEmpty, let mode = FilePermissions.mode(of: path) else { continue }
            FilePermissions.record(FilePermissions.seedsFinding(path: path, mode: mode), source: name, problems: &problems, warnings: &fileWarnings)
        }
        var capReader = SettingsReader(environment)
        let maxBytes = capReader.value(GatewaySettings.seedsFileMaxBytes)
        problems += capReader.problems
        var reader = SettingsReader(environment)
        let keyPath = reader.optional(GatewaySettings.seedsKeyFile)
        if let path = reader.optional(GatewaySettings.seedsFile) {
            collectSeedsFile(path: path, maxBytes: maxBytes, source: "GATEWAY_SEEDS_FILE", keyPath: keyPath,
                keySource: "GATEWAY_SEEDS_KEY_FILE", missingKey: "set GATEWAY_SEEDS_KEY_FILE to its key file", checkModes: true,
                into: &candidates, problems: &problems, fileWarnings: &fileWarnings)
        } else if keyPath != nil {
            problems.append(ConfigProblem(source: "GATEWAY_SEEDS_KEY_FILE", message: "is set but GATEWAY_SEEDS_FILE is not; set both or neither"))
        }
        collectCredentials(maxBytes: maxBytes, into: &candidates, problems: &problems, fileWarnings: &fileWarnings)

        var seen: [String: SeedSource] = [:]
        var entries: [SeedEntry] = []
        seen.reserveCapacity(candidates.count)
        entries.reserveCapacity(candidates.count)
        var warnings: [ConfigProblem] = []
        for c in candidates {
            if let first = seen[c.label] {
                problems.append(ConfigProblem(source: c.source.description, label: c.label,
                    message: "is defined twice: in \(first) and in \(c.source); keep one"))
                continue
            }
            seen[c.label] = c.source
            do {
                let spec = try SeedSpec.parse(c.text, defaults: c.defaults)
                let entry = SeedEntry(label: c.label, parameters: spec.parameters, issuer: spec.issuer, source: c.source,
                    bits: spec.bits, secret: spec.secret)
                if entry.isWeak {
                    warnings.append(ConfigProblem(source: c.source.description, label: c.label,
                        message: "the seed has only \(entry.bits) bits; RFC 4226 requires at least 128 (160 recommended)"))
                }
                entries.append(entry)
            } catch {
                problems.append(ConfigProblem(source: c.source.description, label: c.label, message: error.description))
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return Result(store: SeedStore(entries: entries), warnings: warnings, fileWarnings: fileWarnings)
    }

    private func envParameters(_ problems: inout [ConfigProblem]) -> TOTPParameters {
        var reader = SettingsReader(environment)
        let digits = Int(reader.value(GatewaySettings.digits)) ?? TOTPParameters.defaults.digits
        let period = reader.value(GatewaySettings.period)
        problems += reader.problems
        return (try? TOTPParameters(algorithm: .sha1, digits: digits, period: period)) ?? .defaults
    }

    private func collectSeedVariables(into out: inout [Candidate], defaults: TOTPParameters, problems: inout [ConfigProblem]) {
        let prefix = "TOTP_SEED_"
        var suffixes = Set<String>()
        for name in environment.values.keys where name.hasPrefix(prefix) {
            var suffix = String(name.dropFirst(prefix.count))
            if suffix.hasSuffix("_FILE") { suffix = String(suffix.dropLast(5)) }
            suffixes.insert(suffix)
        }
        for suffix in suffixes.sorted() {
            let variable = prefix + suffix
            // TOTP_SEED_X_FILE always names the file holding label x's seed, so no label from the
            // environment may end in -file: TOTP_SEED_X_FILE_FILE would define "x-file" instead.
            if suffix.lowercased().hasSuffix("_file") {
                problems.append(ConfigProblem(source: environment[variable] != nil ? variable : variable + "_FILE",
                    message: "a label set from the environment cannot end in -file (TOTP_SEED_<LABEL>_FILE names the file holding the seed of <label>); rename the label or define it in GATEWAY_SEEDS_FILE"))
                continue
            }
            let label: String
            do { label = try SeedLabel(suffix.replacing("_", with: "-")).value } catch {
                problems.append(ConfigProblem(source: variable, message: "\(error.description) (from the variable name)"))
                continue
            }
            // An empty TOTP_SEED_X is an empty seed, not "unset": refuse it loudly.
            if let direct = environment[variable], direct.isEmpty, environment[variable + "_FILE"] == nil {
                problems.append(ConfigProblem(source: "environment variable \(variable)", label: label,
                    message: "the seed is empty; an empty HMAC key yields plausible but useless codes"))
                continue
            }
            do {
                guard let v = try environment.value(variable) else { continue }
                let source: SeedSource = .environment(variable: v.source)
                out.append(Candidate(label: label, text: v.value, source: source, defaults: defaults))
            } catch {
                problems.append(ConfigProblem(source: error.source, label: label, message: error.message))
            }
        }
    }

    private func collectLabelsList(into out: inout [Candidate], defaults: TOTPParameters, problems: inout [ConfigProblem]) {
        var reader = SettingsReader(environment)
        let found = reader.sourced(GatewaySettings.labels)
        problems += reader.problems
        guard let labels = found else { return }
        for (i, item) in labels.value.split(separator: ",").enumerated() {
            let entry = String(item).trimmingSpaces()
            if entry.isEmpty { continue }
            let source = SeedSource.labelsList(variable: "LABELS", entry: i + 1)
            guard let colon = entry.firstIndex(of: ":") else {
                problems.append(ConfigProblem(source: source.description, message: "expected label:seed"))
                continue
            }
            let labelText = String(entry[..<colon]).trimmingSpaces()
            do {
                let label = try SeedLabel(labelText).value
                out.append(Candidate(label: label, text: String(entry[entry.index(after: colon)...]).trimmingSpaces(),
                    source: source, defaults: defaults))
            } catch {
                let hint = labelText.contains(" ") || labelText.contains("\t") ? "; entries are label:seed, separated by ','" : ""
                problems.append(ConfigProblem(source: source.description, message: error.description + hint))
            }
        }
    }

    /// `source` and `keySource` name where the paths came from (a variable or a credential) for
    /// errors; `missingKey` says how to give the key of a sealed file.
    /// `checkModes`: false for systemd credentials, whose modes systemd sets.
    private func collectSeedsFile(path: String, maxBytes: Int, source: String, keyPath: String?, keySource: String, missingKey: String, checkModes: Bool,
        into out: inout [Candidate], problems: inout [ConfigProblem], fileWarnings: inout [ConfigProblem])
    {
        let read: (bytes: [UInt8], version: FileIO.Version)
        do { read = try FileIO.readStable(path, maxBytes: maxBytes) } catch {
            if error.isTooLarge {
                problems.append(ConfigProblem(source: source,
                    message: "\(path) is larger than \(maxBytes) bytes, the cap on a seeds file (it keeps a runaway or wrong file from being read into memory); for more labels raise GATEWAY_SEEDS_FILE_MAX_BYTES (each plain line takes about 50 bytes, a sealed one about 100; 100,000 labels: 16777216 bytes), or give some labels in another source (the seeds credential, TOTP_SEED_<LABEL>)"))
            } else {
                problems.append(.unreadableFile(error, variable: source))
            }
            return
        }
        guard let text = String(validating: read.bytes, as: UTF8.self) else {
            problems.append(.unreadableFile(FileIO.Failure(path: path, reason: "is not valid UTF-8 text"), variable: source))
            return
        }
        let mode = read.version.mode
        // Every line of a complete file ends with a newline (editors, `printf '...\n'` and
        // seal-seeds all write one): a last line without one is a file caught while being
        // written, and loading it could serve a cut seed (wrong codes) or drop labels.
        if let last = text.utf8.last, last != 0x0A {
            let lineCount = text.utf8.reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            problems.append(ConfigProblem(source: "\(path):\(lineCount)",
                message: "the last line does not end with a newline: the file looks cut short (caught while being written?); end it with a newline, and replace the file atomically (write a temporary file in the same directory, then mv it over this one)"))
            // Parsed on, so the other lines' problems are reported in the same run.
        }
        do {
            let lines: [SeedsFile.Line]
            if SealedSeedsFile.isSealed(text) {
                guard let keyPath, !keyPath.isEmpty else {
                    problems.append(ConfigProblem(source: source, message: "\(path) is sealed; \(missingKey)"))
                    return
                }
                let kek: [UInt8]
                do { kek = try SealedSeedsFile.readKey(path: keyPath, source: keySource, checkMode: checkModes, warnings: &fileWarnings) } catch {
                    problems.append(error)
                    return
                }
                lines = try SealedSeedsFile.open(text, path: path, kek: kek)
            } else {
                if checkModes {
                    FilePermissions.record(FilePermissions.seedsFinding(path: path, mode: mode), source: source, problems: &problems, warnings: &fileWarnings)
                }
                // Syntax problems join the rest: one bad line must not hide the others' errors.
                let parsed = SeedsFile.parseCollecting(text, path: path)
                lines = parsed.lines
                problems += parsed.problems
            }
            for l in lines {
                out.append(Candidate(label: l.label, text: l.value, source: .file(path: path, line: l.line), defaults: .defaults))
            }
        } catch {
            problems += error.problems
        }
    }

    private func collectCredentials(maxBytes: Int, into out: inout [Candidate], problems: inout [ConfigProblem], fileWarnings: inout [ConfigProblem]) {
        var reader = SettingsReader(environment)
        guard let dir = reader.optional(GatewaySettings.credentials) else { return }
        guard let names = Self.listDirectory(dir) else {
            problems.append(ConfigProblem(source: "CREDENTIALS_DIRECTORY", message: "\(dir): cannot list the directory"))
            return
        }
        if names.contains("seeds") {
            collectSeedsFile(path: dir + "/seeds", maxBytes: maxBytes, source: "credential seeds", keyPath: names.contains("seeds-key") ? dir + "/seeds-key" : nil,
                keySource: "credential seeds-key", missingKey: "add its key as the seeds-key credential", checkModes: false,
                into: &out, problems: &problems, fileWarnings: &fileWarnings)
        }
        let prefix = "totp-seed-"
        for name in names.sorted() where name.hasPrefix(prefix) {
            let source = SeedSource.credential(directory: dir, name: name)
            do {
                let label = try SeedLabel(String(name.dropFirst(prefix.count))).value
                let text = try FileIO.readText(dir + "/" + name, maxBytes: 1 << 16)
                out.append(Candidate(label: label, text: Environment.trimTrailingNewlines(text).trimmingSpaces(),
                    source: source, defaults: .defaults))
            } catch let e as SeedLabel.Invalid {
                problems.append(ConfigProblem(source: source.description, message: e.description))
            } catch {
                problems.append(ConfigProblem(source: source.description, message: "\(error)"))
            }
        }
    }

    static func listDirectory(_ path: String) -> [String]? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
