/// How codes for one label are handed out (one line of `BOT_POLICY`): who approves, how many
/// distinct approvers are needed (never counting the requester: 2 is a two-person rule),
/// whether a reason is required, how long an approval grants further codes, when an
/// unanswered request expires, and where each code handed out is announced. A policy without
/// approvers asks nobody (it can still require a reason and announce). Durations in seconds.
///
/// ```swift
/// let p = AccessPolicy(approvers: [.group("ops-leads")], approvals: 2, reasonRequired: true, grantSeconds: 1800)
/// p.needsApproval   // true
/// ```
struct AccessPolicy: Sendable, Hashable, Codable {
    var approvers: [Principal] = []
    var approvals = 1
    var reasonRequired = false
    var grantSeconds = 0
    var timeoutSeconds = AccessPolicy.defaultTimeout
    var notify: NotifyTarget? = nil

    static let defaultTimeout = 600

    var needsApproval: Bool { !approvers.isEmpty }

    /// Whether it names a Zulip user group anywhere (approvers or DM notification).
    var namesGroups: Bool { (approvers + (notify?.principals ?? [])).contains(where: \.isGroup) }

    /// Field names in the state file.
    private enum CodingKeys: String, CodingKey {
        case approvers, approvals, reasonRequired = "reason_required", grantSeconds = "grant_seconds"
        case timeoutSeconds = "timeout_seconds", notify
    }

    /// The policy as a line would write it (for logs and `--check-config`).
    var summary: String {
        var parts: [String] = []
        if needsApproval {
            parts.append("approvers=" + approvers.map(\.description).joined(separator: ","))
            parts.append("approvals=\(approvals)")
        }
        parts.append("reason=" + (reasonRequired ? "required" : "optional"))
        if needsApproval { parts.append("grant=" + Self.durationText(grantSeconds)) }
        if needsApproval { parts.append("timeout=" + Self.durationText(timeoutSeconds)) }
        if let notify { parts.append("notify=\(notify)") }
        return parts.joined(separator: " ")
    }

    /// `90s`, `30m`, `2h`, `1d`; `0`.
    static func durationText(_ seconds: Int) -> String {
        if seconds == 0 { return "0" }
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60)] where seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
