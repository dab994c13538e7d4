import Platform
import TextSupport

/// The official `zuliprc` INI file: an `[api]` section with `email`, `key`, `site` and
/// optionally `cert_bundle` and `insecure`. Other sections and keys are ignored.
///
/// ```swift
/// let rc = try ZulipRC.parse("[api]\nemail=bot@example.com\nkey=abc\nsite=https://chat.example.com\n", source: "zuliprc")
/// rc.values["site"]   // "https://chat.example.com"
/// ```
struct ZulipRC: Sendable, Equatable {
    /// Keys of the `[api]` section, lower-cased.
    var values: [String: String]

    static func load(path: String) throws(ConfigProblem) -> ZulipRC {
        let text: String
        do { text = try FileIO.readText(path, maxBytes: 64 << 10) } catch {
            throw ConfigProblem(source: "zuliprc", message: "\(error.description); check --zuliprc / ZULIP_CONFIG")
        }
        return try parse(text, source: path)
    }

    static func parse(_ text: String, source: String) throws(ConfigProblem) -> ZulipRC {
        var section = ""
        var values: [String: String] = [:]
        var sawAPI = false
        var lineNumber = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw ConfigProblem(source: "\(source):\(lineNumber)", message: "section header without ']'")
                }
                section = line.dropFirst().dropLast().trimmingCharacters(in: " \t").lowercased()
                if section == "api" { sawAPI = true }
                continue
            }
            guard let eq = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ConfigProblem(source: "\(source):\(lineNumber)", message: "expected key = value")
            }
            guard section == "api" else { continue }
            let key = line[..<eq].trimmingCharacters(in: " \t").lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: " \t")
            values[key] = value
        }
        guard sawAPI else { throw ConfigProblem(source: source, message: "no [api] section; a zuliprc needs [api] with email, key and site") }
        return ZulipRC(values: values)
    }
}
