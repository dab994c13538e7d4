#if canImport(Glibc)
import Glibc
#endif
import TOTP

/// Every text the bot sends. A label the user may not read and a label that does not exist
/// get the very same answer (`notAvailable`), so label names cannot be probed.
///
/// ```swift
/// ReplyFormatter.code(code: "123456", label: "certus", remaining: 17, next: nil)
/// // "`123456` for certus — valid for 17 s more."
/// ```
enum ReplyFormatter {
    /// Below this many seconds left, the reply also carries the next code.
    static let nextCodeThreshold = 5

    static func code(code: String, label: String, remaining: Int, next: (code: String, startsIn: Int, validUntil: Int64)?) -> String {
        var text = "`\(code)` for \(label) — valid for \(remaining) s more."
        if let next {
            text += " Next code `\(next.code)` starts in \(next.startsIn) s, valid until \(utcTime(next.validUntil)) UTC."
        }
        return text
    }

    /// The current code already went to someone else in this step: the next one, and when it
    /// starts (a verifier accepts each code once).
    static func reusedCode(next: String, label: String, startsIn: Int, startsAt: Int64, validUntil: Int64) -> String {
        "`\(next)` for \(label) — the current code was already handed to someone else in this time step, and a code "
            + "works only once, so this is the next one: it starts in \(startsIn) s (at \(utcTime(startsAt)) UTC) "
            + "and is valid until \(utcTime(validUntil)) UTC."
    }

    /// The edit applied once the code's window has ended.
    static func expired(label: String) -> String {
        "~~code~~ for \(label) expired. Send `code \(label)` for a fresh one."
    }

    /// Forbidden, unknown and malformed labels alike. The label is echoed only in its
    /// validated, lower-cased form, identical in every case.
    static func notAvailable(label: String) -> String {
        if let valid = try? SeedLabel(label).value {
            return "No code for `\(valid)` is available to you. Send `labels` to see what you may request."
        }
        return "No code for that label is available to you. Send `labels` to see what you may request."
    }

    static func labels(_ grant: AccessList.Grant?) -> String {
        switch grant {
        case nil: "You may not request any codes. Ask an administrator to add you to the bot's access list."
        case .all?: "You may request any label the gateway knows: send `code <label>`."
        case .labels(let set)?: "You may request: " + set.sorted().map { "`\($0)`" }.joined(separator: ", ") + ". Send `code <label>`."
        }
    }

    /// `labels` with the gateway's list (or the ACL's), each label's policy noted.
    static func labelList(_ labels: [(String, AccessPolicy?)]) -> String {
        guard !labels.isEmpty else { return "No label you may request is served right now. Ask an administrator." }
        let items = labels.map { label, policy -> String in
            var notes: [String] = []
            if let policy, policy.needsApproval {
                notes.append(policy.approvals == 1 ? "needs an approval" : "needs \(policy.approvals) approvals")
            }
            if policy?.reasonRequired == true { notes.append("needs a reason") }
            return "`\(label)`" + (notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")")
        }
        return "You may request: " + items.joined(separator: ", ") + ". Send `code <label> [reason]`."
    }

    static let help = """
        I hand out TOTP codes. Commands (DM me, case does not matter):
        - `code <label> [reason]`: the current code for that label (some labels need an approval first: then you get a request number, and the code once it is approved)
        - `labels`: the labels you may request
        - `grants`: your approvals still running and when they end
        - `pending`: the requests waiting for your approval
        - `approve <n>`, `deny <n> [why]`: decide a request (or react :+1: / :-1: to my message asking you)
        - `help`: this text
        """

    static let unavailable = "The code service is unreachable right now. Please try again in a minute."

    static func rateLimited(retryIn seconds: Int) -> String {
        "Too many requests. Please try again in \(max(1, seconds)) s."
    }

    static let groupHint = "I only hand out codes in a direct message: DM me `code <label>`."

    /// `HH:MM:SS` in UTC.
    static func utcTime(_ unixSeconds: Int64) -> String {
        var t = time_t(unixSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}
