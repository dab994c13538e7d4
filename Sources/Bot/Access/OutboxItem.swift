/// A message the access workflow owes someone, kept in the leader's state until it is sent,
/// so a new leader sends what a dead one could not and nothing it already did: an ask to an
/// approver, the code to an approved requester, a result (denied, expired, cancelled), a notice
/// to the other approvers, a notification. Its `status` runs `held` (waiting for something:
/// a notification for its code to be handed out) -> `ready` -> `sending` (on record before the
/// POST: the message may exist) -> `sent`. Every text starts with `marker`, unique in its
/// conversation, so a send left in doubt is settled by finding it there (`OutboxSender`).
/// A code's text is made when it is sent (`text` nil): a code must be current.
///
/// ```swift
/// let item = OutboxItem(key: "r7-code", role: .code, request: 7, users: [31], text: nil,
///                       marker: "Request #7, approved by", createdAt: now)
/// ```
struct OutboxItem: Sendable, Equatable, Codable {
    enum Role: String, Sendable, Codable {
        case ask, code, result, notice, notification
    }

    enum Status: String, Sendable, Codable {
        case held, ready, sending, sent
    }

    var key: String
    var role: Role
    var request: Int
    /// DM recipients (one: a 1:1 DM); empty for a stream message.
    var users: [Int] = []
    var stream: String? = nil
    var topic: String? = nil
    var text: String?
    var marker: String
    var status: Status = .ready
    var createdAt: Double
    /// Held until the reply to this DM is on record (a code handed out as a reply).
    var afterReplyTo: Int? = nil
    /// Held until this item is sent (a notification after its code).
    var afterItem: String? = nil
    /// Not tried again before this time (after a refused send).
    var notBefore: Double? = nil
    var attempts = 0
    var messageID: Int? = nil

    init(key: String, role: Role, request: Int, users: [Int] = [], stream: String? = nil, topic: String? = nil, text: String?,
         marker: String, createdAt: Double) {
        self.key = key
        self.role = role
        self.request = request
        self.users = users
        self.stream = stream
        self.topic = topic
        self.text = text
        self.marker = marker
        self.createdAt = createdAt
    }

    var isStream: Bool { stream != nil }

    private enum CodingKeys: String, CodingKey {
        case key, role, request, users, stream, topic, text, marker, status, createdAt = "created_at"
        case afterReplyTo = "after_reply_to", afterItem = "after_item", notBefore = "not_before", attempts, messageID = "message_id"
    }
}
