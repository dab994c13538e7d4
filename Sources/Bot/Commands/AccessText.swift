/// Every text of the access workflow: replies, asks, results, notices and notifications. The
/// messages the bot sends on its own start with a marker (`AccessText.Marker`) unique in their
/// conversation, by which a send left in doubt is found again; replies never start with one.
/// A user's reason is shown as inline code (no mention, link or formatting can come through),
/// never a code in a notification.
///
/// ```swift
/// AccessText.waiting(request, approvers: ["Carol", "Dave"])
/// // "Request #7 for `prod` is waiting for 2 approvals from Carol or Dave. ..."
/// ```
enum AccessText {
    /// The start of each message the bot sends on its own for request `n`.
    enum Marker {
        static func ask(_ n: Int) -> String { "Request #\(n): " }
        static func notice(_ n: Int) -> String { "Request #\(n) (" }
        static func code(_ n: Int) -> String { "Request #\(n), approved by " }
        static func denied(_ n: Int) -> String { "Request #\(n) was denied" }
        static func expired(_ n: Int) -> String { "Request #\(n) expired" }
        static func cancelled(_ n: Int) -> String { "Request #\(n) was cancelled" }
        static func notification(_ n: Int) -> String { "Code handed out (request #\(n))" }
        static func failed(_ n: Int) -> String { "Request #\(n) was approved, but" }
    }

    /// Longest reason kept, in characters.
    static let maxReason = 300

    /// `text` as inline code on one line, with a fence longer than any backtick run in it.
    static func quote(_ text: String) -> String {
        let flat = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        var longest = 0
        var run = 0
        for c in flat {
            run = c == "`" ? run + 1 : 0
            longest = max(longest, run)
        }
        let fence = String(repeating: "`", count: longest + 1)
        // A code span that starts or ends with a backtick needs a space inside its fence.
        let pad = flat.hasPrefix("`") || flat.hasSuffix("`") ? " " : ""
        return fence + pad + flat + pad + fence
    }

    /// "Carol", "Carol and Dave", "Carol, Dave and Erin", "... and 4 more".
    static func list(_ names: [String], limit: Int = 8, conjunction: String = "and") -> String {
        guard !names.isEmpty else { return "nobody" }
        var shown = Array(names.prefix(limit))
        if names.count > limit { shown.append("\(names.count - limit) more") }
        if shown.count == 1 { return shown[0] }
        return shown.dropLast().joined(separator: ", ") + " \(conjunction) " + shown.last!
    }

    static func time(_ unix: Double) -> String { ReplyFormatter.utcTime(Int64(unix)) + " UTC" }

    private static func reasonSentence(_ reason: String?) -> String {
        reason.map { " Reason: \(quote($0))." } ?? ""
    }

    // MARK: - Replies to the requester

    static func reasonNeeded(label: String) -> String {
        "A code for `\(label)` needs a reason: send `code \(label) <why you need it>`."
    }

    static func waiting(_ r: AccessRequest, approvers: [String]) -> String {
        let needed = r.policy.approvals == 1 ? "an approval" : "\(r.policy.approvals) approvals"
        return "Request #\(r.number) for `\(r.label)` is waiting for \(needed) from \(list(approvers, conjunction: "or")). "
            + "I will send the code here once it is approved; unanswered, it expires at \(time(r.expiresAt))."
    }

    static func cannotBeApproved(label: String, needed: Int, available: Int) -> String {
        "A code for `\(label)` needs \(needed == 1 ? "an approval" : "\(needed) approvals") from approvers other than you, "
            + "and \(available == 0 ? "none is" : available == 1 ? "only 1 is" : "only \(available) are") available. Ask an administrator."
    }

    /// A request met again (its DM answered anew after a failover): where it stands.
    static func status(_ r: AccessRequest, name: (Int) -> String) -> String {
        let who = list(r.decidedBy.map(name))
        return switch r.status {
        case .pending, .direct: "Request #\(r.number) for `\(r.label)` is still waiting for approval."
        case .approved: "Request #\(r.number) is already approved by \(who); its code was sent to you."
        case .denied: "Request #\(r.number) is already decided: denied by \(who)."
        case .expired: "Request #\(r.number) is already over: it expired."
        case .cancelled: "Request #\(r.number) is already over: it was cancelled."
        }
    }

    // MARK: - Asks and replies to approvers

    static func ask(_ r: AccessRequest, requester: String, requesterEmail: String?) -> String {
        let email = requesterEmail.map { " (\($0))" } ?? ""
        let needs = r.policy.approvals == 1 ? "One approval decides" : "\(r.policy.approvals) approvals decide"
        return Marker.ask(r.number) + "\(requester)\(email) asks for a code for `\(r.label)`.\(reasonSentence(r.reason))\n"
            + "Approve: reply `approve \(r.number)` or react :+1: to this message. Deny: `deny \(r.number) [why]` or react :-1:. "
            + "\(needs); it expires at \(time(r.expiresAt))."
    }

    static func noSuchRequest(_ n: Int) -> String { "There is no request #\(n). Send `pending` to see the requests waiting for you." }

    static func whichRequest(_ open: [Int]) -> String {
        open.isEmpty ? "No request is waiting for you." :
            "Several requests wait for you (\(open.map { "#\($0)" }.joined(separator: ", "))): say which, e.g. `approve \(open[0])`."
    }

    static let ownRequest = "You cannot approve or deny your own request: another approver has to."

    static func notApprover(_ n: Int) -> String { "You are not an approver of request #\(n)." }

    static func voteRecorded(_ r: AccessRequest, missing: Int) -> String {
        "Your approval of request #\(r.number) is recorded; \(missing == 1 ? "1 more approval is" : "\(missing) more approvals are") needed."
    }

    static func alreadyApproved(_ n: Int) -> String { "You approved request #\(n) already." }

    static func approvedReply(_ r: AccessRequest, requester: String) -> String {
        var text = "Approved request #\(r.number): the code goes to \(requester) now."
        if r.policy.grantSeconds > 0, let at = r.decidedAt {
            text += " Until \(time(at + Double(r.policy.grantSeconds))) \(requester) gets codes for `\(r.label)` without asking again."
        }
        return text
    }

    static func deniedReply(_ r: AccessRequest, requester: String) -> String {
        "Denied request #\(r.number); \(requester) is told."
    }

    // MARK: - Results for the requester

    static func denied(_ r: AccessRequest, by: String) -> String {
        Marker.denied(r.number) + " by \(by)" + (r.why.map { ": \(quote($0))." } ?? ".")
    }

    static func expired(_ r: AccessRequest) -> String {
        Marker.expired(r.number) + ": nobody approved it in time. Send `code \(r.label) [reason]` to ask again."
    }

    static func cancelled(_ r: AccessRequest) -> String {
        Marker.cancelled(r.number) + ": you may no longer request `\(r.label)`."
    }

    /// The code, once approved (made when it is sent).
    static func code(_ r: AccessRequest, approvers: String, codeText: String) -> String {
        Marker.code(r.number) + "\(approvers): " + codeText
    }

    /// An approved code that could not be fetched for too long (or the label is gone).
    static func codeFailed(_ r: AccessRequest) -> String {
        Marker.failed(r.number) + " no code could be fetched for it: the code service was unreachable or refused. "
            + "Send `code \(r.label)` to ask again."
    }

    // MARK: - Notices to the other approvers

    static func notice(_ r: AccessRequest, requester: String, name: (Int) -> String) -> String {
        let head = Marker.notice(r.number) + "\(requester), `\(r.label)`) "
        return switch r.status {
        case .approved: head + "was approved by \(list(r.decidedBy.map(name))); nothing more to do."
        case .denied: head + "was denied by \(list(r.decidedBy.map(name)))" + (r.why.map { ": \(quote($0))." } ?? ".")
        case .expired: head + "expired unanswered."
        case .cancelled: head + "was cancelled: \(requester) may no longer request it."
        case .pending, .direct: head + "is still open."
        }
    }

    // MARK: - Notifications (never the code)

    static func notification(_ r: AccessRequest, requester: String, requesterEmail: String?, at: Double, approvers: [String],
                             grant: AccessGrant?) -> String {
        let email = requesterEmail.map { " (\($0))" } ?? ""
        var text = Marker.notification(r.number) + ": a code for `\(r.label)` went to \(requester)\(email) at \(time(at))."
        text += reasonSentence(r.reason)
        if let grant {
            text += " Under the grant of request #\(grant.number) (approved by \(list(approvers))) until \(time(grant.until))."
        } else if !approvers.isEmpty {
            text += " Approved by \(list(approvers))."
        }
        return text
    }

    // MARK: - pending, grants

    static func pending(_ open: [AccessRequest], now: Double, name: (Int) -> String) -> String {
        guard !open.isEmpty else { return "No request is waiting for your approval." }
        var lines = ["Requests waiting for your approval:"]
        for r in open {
            let given = r.votes.count
            lines.append("- #\(r.number): \(name(r.requester)) for `\(r.label)`\(r.reason.map { " (reason \(quote($0)))" } ?? ""), "
                + "\(given) of \(r.policy.approvals) approvals, expires at \(time(r.expiresAt)): `approve \(r.number)` or `deny \(r.number) [why]`")
        }
        return lines.joined(separator: "\n")
    }

    static func grants(_ list: [AccessGrant], now: Double) -> String {
        guard !list.isEmpty else { return "You have no running grants." }
        var lines = ["Your grants (codes without a new approval):"]
        for g in list.sorted(by: { $0.until < $1.until }) {
            let minutes = Int((g.until - now) / 60)
            lines.append("- `\(g.label)` until \(time(g.until)) (\(minutes < 1 ? "less than a minute" : "\(minutes) min") left; request #\(g.number))")
        }
        return lines.joined(separator: "\n")
    }
}
