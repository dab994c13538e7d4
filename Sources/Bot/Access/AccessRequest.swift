/// One request for a code under a policy, from the DM that asked to its end: `pending` (asks
/// sent, votes coming in), then `approved`, `denied`, `expired` or `cancelled` (the requester
/// lost access); or `direct`, a code handed out at once (a running grant, or a policy without
/// approvers), kept so that the DM, answered again after a crash, gets its code and not a
/// second request. The policy is copied in: a request keeps the rules it was made under.
/// Times are unix seconds. Persisted in the leader's state (`AccessWorkflow`).
///
/// ```swift
/// let r = AccessRequest(number: 7, requester: 31, label: "prod", reason: "deploy", messageID: 3040,
///                       policy: policy, createdAt: now, expiresAt: now + 600)
/// ```
struct AccessRequest: Sendable, Equatable, Codable {
    enum Status: String, Sendable, Codable {
        case pending, approved, denied, expired, cancelled, direct
    }

    /// An approver asked, and the bot's DM that asked them (once sent): reactions to it vote.
    struct Ask: Sendable, Equatable, Codable {
        var approver: Int
        var messageID: Int? = nil

        private enum CodingKeys: String, CodingKey { case approver, messageID = "message_id" }
    }

    /// One approval: by whom, when, and how (an `approve` DM, or a :+1: on the ask).
    struct Vote: Sendable, Equatable, Codable {
        var voter: Int
        var at: Double
        /// The `approve` DM (nil for a reaction).
        var messageID: Int? = nil

        var byReaction: Bool { messageID == nil }

        private enum CodingKeys: String, CodingKey { case voter, at, messageID = "message_id" }
    }

    var number: Int
    var requester: Int
    var label: String
    var reason: String?
    /// The DM that asked.
    var messageID: Int
    var policy: AccessPolicy
    var createdAt: Double
    var expiresAt: Double
    var status: Status = .pending
    var asks: [Ask] = []
    var votes: [Vote] = []
    var decidedAt: Double? = nil
    /// Who decided: the approvers whose votes counted, or the one who denied.
    var decidedBy: [Int] = []
    /// The DM that decided it (an `approve` or `deny`), when one did.
    var decidedByMessage: Int? = nil
    /// A denial's reason, or why it was cancelled.
    var why: String? = nil
    /// `direct` under a grant: the request whose approval granted it.
    var grantOf: Int? = nil

    init(number: Int, requester: Int, label: String, reason: String?, messageID: Int, policy: AccessPolicy,
         createdAt: Double, expiresAt: Double) {
        self.number = number
        self.requester = requester
        self.label = label
        self.reason = reason
        self.messageID = messageID
        self.policy = policy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    var isPending: Bool { status == .pending }

    private enum CodingKeys: String, CodingKey {
        case number, requester, label, reason, messageID = "message_id", policy, createdAt = "created_at"
        case expiresAt = "expires_at", status, asks, votes, decidedAt = "decided_at", decidedBy = "decided_by"
        case decidedByMessage = "decided_by_message", why, grantOf = "grant_of"
    }
}
