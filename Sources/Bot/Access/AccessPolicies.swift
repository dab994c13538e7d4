import Platform
import TOTP
import TextSupport

/// The access policies of `BOT_POLICY` / `BOT_POLICY_FILE`: one line per label, or a `*` line
/// for every label without its own, each `label: key=value ...`:
///
///     prod-aws: approvers=@ops-leads,carol@example.com approvals=2 reason=required grant=30m timeout=10m notify=stream:security/codes
///     *: reason=required notify="dm:@security team"
///     certus:
///
/// Keys: `approvers` (emails, user ids, `@groups`), `approvals` (distinct approvers needed, 1 by
/// default, never the requester), `reason` (`required` or `optional`), `grant` (how long an
/// approval covers further codes; 0, the default, means one code), `timeout` (when an
/// unanswered request expires; 10m), `notify` (`stream:NAME/TOPIC` or `dm:...`). Durations are
/// a number with `s`, `m`, `h` or `d` (`0` alone). A value with spaces goes in double quotes. An
/// empty policy (`certus:`) exempts a label from the `*` line; a label without any policy is
/// handed out as before. Lines may also be separated by `;` (outside quotes), `#` starts a
/// comment line. Every mistake is reported with its line, and all of them at once.
///
/// ```swift
/// let policies = try AccessPolicies.parse("prod-aws: approvers=@ops approvals=2", source: "BOT_POLICY")
/// policies.policy(for: "prod-aws")?.approvals   // 2
/// policies.policy(for: "certus")                // nil: handed out as before
/// ```
struct AccessPolicies: Sendable, Equatable {
    private(set) var byLabel: [String: AccessPolicy] = [:]
    /// The `*` line.
    private(set) var fallback: AccessPolicy? = nil

    init() {}

    var isEmpty: Bool { byLabel.isEmpty && fallback == nil }
    var count: Int { byLabel.count + (fallback == nil ? 0 : 1) }

    /// The policy of `label` (lower-cased by `SeedLabel`): its own line, else the `*` line.
    func policy(for label: String) -> AccessPolicy? { byLabel[label] ?? fallback }

    /// Whether any policy names a Zulip user group (then the bot needs the server's groups).
    var namesGroups: Bool { byLabel.values.contains(where: \.namesGroups) || fallback?.namesGroups == true }

    /// Every principal the policies name as approvers or DM recipients (to resolve and log).
    var principals: Set<Principal> {
        var out = Set<Principal>()
        for p in Array(byLabel.values) + (fallback.map { [$0] } ?? []) {
            out.formUnion(p.approvers)
            out.formUnion(p.notify?.principals ?? [])
        }
        return out
    }

    /// Longest accepted `grant` and `timeout`.
    static let maxDuration = 7 * 86400
    /// Most approvals a policy may require.
    static let maxApprovals = 20

    static func parse(_ text: String, source: String) throws(ConfigError) -> AccessPolicies {
        var policies = AccessPolicies()
        var problems: [ConfigProblem] = []
        var seen: [String: String] = [:]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            let trimmedLine = line.trimmingCharacters(in: " \t\r")
            if trimmedLine.isEmpty || trimmedLine.hasPrefix("#") { continue }
            let entries = splitOutsideQuotes(trimmedLine, separator: ";")
            for (entryIndex, raw) in entries.enumerated() {
                let entry = raw.trimmingCharacters(in: " \t\r")
                if entry.isEmpty { continue }
                // Name the line, and the entry when one line holds several.
                var where_ = lines.count > 1 ? "\(source):\(index + 1)" : source
                if entries.count > 1 { where_ += " entry \(entryIndex + 1)" }
                do {
                    let (label, policy) = try parseLine(entry)
                    if let first = seen[label] {
                        problems.append(ConfigProblem(source: where_, message: "a second policy for '\(label)' (the first is at \(first)); keep one line per label"))
                        continue
                    }
                    seen[label] = where_
                    if label == "*" { policies.fallback = policy } else { policies.byLabel[label] = policy }
                } catch {
                    problems.append(ConfigProblem(source: where_, message: error.message))
                }
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return policies
    }

    /// A malformed policy line.
    private struct LineError: Error { let message: String }

    private static let keys = ["approvers", "approvals", "reason", "grant", "timeout", "notify"]

    private static func parseLine(_ entry: String) throws(LineError) -> (String, AccessPolicy) {
        guard let colon = entry.firstIndex(of: ":") else {
            throw LineError(message: "'\(AccessList.printable(entry))' has no ':'; write label: key=value ..., e.g. prod-aws: approvers=@ops-leads approvals=2")
        }
        let rawLabel = entry[..<colon].trimmingCharacters(in: " \t")
        let label: String
        if rawLabel == "*" {
            label = "*"
        } else {
            do { label = try SeedLabel(rawLabel).value } catch { throw LineError(message: "\(error.description) (or write * for every label)") }
        }
        var policy = AccessPolicy()
        var given: Set<String> = []
        let body = String(entry[entry.index(after: colon)...])
        guard let words = splitWords(body) else {
            throw LineError(message: "policy for '\(label)': a double quote is not closed")
        }
        for word in words {
            guard let eq = word.firstIndex(of: "=") else {
                throw LineError(message: "policy for '\(label)': '\(AccessList.printable(word))' is not key=value (keys: \(keys.joined(separator: ", ")))")
            }
            let key = String(word[..<eq]).asciiLowercased
            let value = unquote(String(word[word.index(after: eq)...]))
            guard keys.contains(key) else {
                throw LineError(message: "policy for '\(label)': unknown key '\(AccessList.printable(key))' (keys: \(keys.joined(separator: ", ")))")
            }
            guard given.insert(key).inserted else { throw LineError(message: "policy for '\(label)': \(key)= is given twice") }
            switch key {
            case "approvers":
                var who: [Principal] = []
                for piece in value.split(separator: ",") {
                    let text = piece.trimmingCharacters(in: " \t")
                    if text.isEmpty { continue }
                    do { who.append(try Principal(parsing: text)) } catch { throw LineError(message: "policy for '\(label)': approvers: \(error.message)") }
                }
                guard !who.isEmpty else { throw LineError(message: "policy for '\(label)': approvers= names nobody; list emails, user ids or @groups") }
                var unique: [Principal] = []
                for p in who where !unique.contains(p) { unique.append(p) }
                policy.approvers = unique
            case "approvals":
                guard value.allSatisfy(\.isASCIIDigit), let n = Int(value), (1...maxApprovals).contains(n) else {
                    throw LineError(message: "policy for '\(label)': approvals must be a whole number from 1 to \(maxApprovals)")
                }
                policy.approvals = n
            case "reason":
                switch value.asciiLowercased {
                case "required": policy.reasonRequired = true
                case "optional": policy.reasonRequired = false
                default: throw LineError(message: "policy for '\(label)': reason must be required or optional")
                }
            case "grant":
                guard let s = duration(value), s <= maxDuration else {
                    throw LineError(message: "policy for '\(label)': grant must be a duration up to 7d such as 0, 90s, 30m, 2h (0: the approval covers one code)")
                }
                policy.grantSeconds = s
            case "timeout":
                guard let s = duration(value), s >= 10, s <= maxDuration else {
                    throw LineError(message: "policy for '\(label)': timeout must be a duration from 10s to 7d such as 90s, 10m, 1h")
                }
                policy.timeoutSeconds = s
            default:
                do { policy.notify = try NotifyTarget(parsing: value) } catch { throw LineError(message: "policy for '\(label)': \(error.message)") }
            }
        }
        if !policy.needsApproval {
            for key in ["approvals", "grant", "timeout"] where given.contains(key) {
                throw LineError(message: "policy for '\(label)': \(key)= needs approvers= (who approves the requests)")
            }
        }
        let people = policy.approvers.filter { !$0.isGroup }.count
        if policy.needsApproval, !policy.approvers.contains(where: \.isGroup), people < policy.approvals {
            throw LineError(message: "policy for '\(label)': approvals=\(policy.approvals) but only \(people) approver(s) listed; a request could never be approved")
        }
        return (label, policy)
    }

    /// `0`, or a number with `s`, `m`, `h`, `d`; nil if malformed.
    static func duration(_ text: String) -> Int? {
        if text == "0" { return 0 }
        guard let unit = text.last, let size = ["s": 1, "m": 60, "h": 3600, "d": 86400][unit] else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 7, digits.allSatisfy(\.isASCIIDigit), let n = Int(digits) else { return nil }
        return n * size
    }

    /// Splits on `separator` outside double quotes.
    static func splitOutsideQuotes(_ text: String, separator: Character) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        for c in text {
            if c == "\"" { quoted.toggle() }
            if c == separator && !quoted {
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        out.append(current)
        return out
    }

    /// Whitespace-separated words, double quotes keeping spaces together; nil if a quote is open.
    private static func splitWords(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var quoted = false
        for c in text {
            if c == "\"" { quoted.toggle() }
            if (c == " " || c == "\t") && !quoted {
                if !current.isEmpty { words.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if quoted { return nil }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// `"a b"` -> `a b`; quotes inside a value (`key="a b"` or `key=x"a b"`) are dropped.
    private static func unquote(_ value: String) -> String {
        value.filter { $0 != "\"" }
    }
}
