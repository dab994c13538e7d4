import FoundationEssentials

/// What a leader keeps in `BOT_STATE_DIR/watermark.json` for whoever leads next (itself after a
/// lost queue, or a standby after a takeover). A plain value; `LeaderStateStore` persists it.
///
/// - `lastMessageID`, the watermark: every DM up to it is settled (answered, ignored or too old),
///   so catch-up starts right after it. It only moves past messages that were really dealt with.
/// - `replies`: request id -> id of the bot's reply, for replies above the watermark. Catch-up
///   uses them to know exactly which requests after the watermark are answered, and that a bot
///   message in the window answers an older request (e.g. the reply to the watermark itself,
///   sent after the user's next DM) rather than the next one.
/// - `sending`: requests whose reply was being sent when no answer came back (or the process
///   died): the reply may exist. Catch-up pairs each with a bot message no recorded reply claims.
/// - `noReply`: requests above the watermark settled on purpose without a reply (a rate-limited
///   user who was already told when to come back). Catch-up treats them as answered.
/// - `pendingEdits`: expiry edits still to do.
/// - `access`: the access workflow (`AccessWorkflow`): requests under a policy and their votes,
///   running grants, and the messages owed (asks, codes, results, notices, notifications), so
///   that whoever leads next finishes them exactly once.
/// - `epoch`: the election epoch of the leader that wrote it (`LeaderStateStore` refuses to
///   write over a newer one).
///
/// ```swift
/// var state = LeaderState(lastMessageID: 3031)
/// state.recordReply(to: 3032, replyID: 3034)
/// state.advance(to: 3034)   // also forgets what catch-up can no longer meet
/// ```
struct LeaderState: Sendable, Equatable {
    var lastMessageID: Int?
    var replies: [Int: Int] = [:]
    var sending: Set<Int> = []
    var noReply: Set<Int> = []
    var pendingEdits: [PendingEdit] = []
    var access = AccessWorkflow()
    var epoch: Int? = nil
    /// Read from a file of a version that kept only the watermark: which requests after it were
    /// answered is unknown, so catch-up falls back to pairing replies in order.
    var legacy = false

    init(lastMessageID: Int? = nil) {
        self.lastMessageID = lastMessageID
    }

    /// Moves the watermark forward to `id` (never back); returns whether it moved.
    @discardableResult
    mutating func advance(to id: Int) -> Bool {
        if let lastMessageID, lastMessageID >= id { return false }
        lastMessageID = id
        prune()
        return true
    }

    /// Replaces a watermark found to be impossible (beyond the newest message Zulip has) by
    /// `id`, possibly lower. What the file says about replies after it may be just as wrong, so
    /// catch-up pairs replies in order as for a first-version file (`legacy`).
    mutating func repair(watermark id: Int) {
        lastMessageID = id
        legacy = true
    }

    mutating func recordReply(to requestID: Int, replyID: Int) {
        replies[requestID] = replyID
        sending.remove(requestID)
        // In the same write: a notification waiting for this reply (its code) may go.
        access.replyRecorded(to: requestID)
        prune()
    }

    /// Drops what no catch-up can meet any more: replies at or below the watermark (the
    /// request is then below it too) and sends of settled requests.
    mutating func prune() {
        guard let mark = lastMessageID else { return }
        replies = replies.filter { $0.value > mark }
        sending = sending.filter { $0 > mark }
        noReply = noReply.filter { $0 > mark }
        access.prune(watermark: mark)
    }

    // MARK: - watermark.json

    /// The file's JSON. The first version wrote only `last_message_id` and `updated_at`.
    private struct Wire: Codable {
        var last_message_id: Int
        var updated_at: Int64
        var replies: [String: Int]?
        var sending: [Int]?
        var no_reply: [Int]?
        var pending_edits: [PendingEdit]?
        var access: AccessWorkflow?
        var epoch: Int?
    }

    /// The file's content (nil without a watermark yet: nothing worth writing).
    func encoded(now: Int64) -> [UInt8]? {
        guard let lastMessageID else { return nil }
        let wire = Wire(
            last_message_id: lastMessageID, updated_at: now,
            replies: Dictionary(uniqueKeysWithValues: replies.map { (String($0.key), $0.value) }),
            sending: sending.sorted(), no_reply: noReply.sorted(), pending_edits: pendingEdits,
            access: access.isBlank ? nil : access, epoch: epoch)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(wire) else { return nil }
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// Parses a watermark.json; nil if it is not one.
    static func decode(_ bytes: [UInt8]) -> LeaderState? {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(bytes)) else { return nil }
        var state = LeaderState(lastMessageID: wire.last_message_id)
        var replies: [Int: Int] = [:]
        for (key, value) in wire.replies ?? [:] {
            guard let id = Int(key) else { return nil }
            replies[id] = value
        }
        state.replies = replies
        state.sending = Set(wire.sending ?? [])
        state.noReply = Set(wire.no_reply ?? [])
        state.epoch = wire.epoch
        state.pendingEdits = wire.pending_edits ?? []
        state.access = wire.access ?? AccessWorkflow()
        state.legacy = wire.replies == nil
        return state
    }
}
