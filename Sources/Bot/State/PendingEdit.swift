/// An expiry edit still to do: the bot's reply `messageID` showed a code for `label` that
/// stops being valid at `dueAt` (unix seconds), when the reply is edited to say it expired.
/// Persisted with the leader's state, so a new leader finishes the edits of one that died.
///
/// ```swift
/// let edit = PendingEdit(messageID: 3034, label: "certus", dueAt: 1_795_603_050)
/// ```
struct PendingEdit: Codable, Sendable, Equatable {
    var messageID: Int
    var label: String
    var dueAt: Double

    /// Field names in watermark.json.
    private enum CodingKeys: String, CodingKey {
        case messageID = "message_id", label, dueAt = "due_at"
    }
}
