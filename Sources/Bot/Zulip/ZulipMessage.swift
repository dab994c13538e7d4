/// A Zulip message as the events and `GET /messages` deliver it (only the fields the bot
/// uses). `display_recipient` is a list of participants for DMs and a stream name otherwise.
///
/// ```swift
/// let m = try JSONDecoder().decode(ZulipMessage.self, from: data)
/// if m.isDirect && m.participants.count == 2 { /* 1:1 DM */ }
/// ```
struct ZulipMessage: Decodable, Sendable, Equatable {
    /// One entry of a DM's `display_recipient` list.
    struct Participant: Decodable, Sendable, Equatable {
        var id: Int
        var email: String
    }

    var id: Int
    var type: String
    var sender_id: Int
    var sender_email: String
    var content: String
    var timestamp: Int64
    /// DM participants (the bot and the sender included); empty for stream messages.
    var participants: [Participant]
    var flags: [String]
    /// Emoji reactions (who reacted with what), on messages fetched one by one.
    var reactions: [ZulipReaction] = []

    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case id, type, sender_id, sender_email, content, timestamp, display_recipient, flags, reactions
    }

    init(id: Int, type: String, sender_id: Int, sender_email: String, content: String, timestamp: Int64,
         participants: [Participant], flags: [String] = []) {
        self.id = id
        self.type = type
        self.sender_id = sender_id
        self.sender_email = sender_email
        self.content = content
        self.timestamp = timestamp
        self.participants = participants
        self.flags = flags
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        type = try c.decode(String.self, forKey: .type)
        sender_id = try c.decode(Int.self, forKey: .sender_id)
        sender_email = try c.decodeIfPresent(String.self, forKey: .sender_email) ?? ""
        content = try c.decodeIfPresent(String.self, forKey: .content) ?? ""
        timestamp = try c.decodeIfPresent(Int64.self, forKey: .timestamp) ?? 0
        participants = (try? c.decode([Participant].self, forKey: .display_recipient)) ?? []
        flags = try c.decodeIfPresent([String].self, forKey: .flags) ?? []
        reactions = (try? c.decodeIfPresent([ZulipReaction].self, forKey: .reactions)) ?? []
    }

    /// A DM (1:1 or group): Zulip message objects still say `private`.
    var isDirect: Bool { type == "private" }

    /// The other participants besides `botID`.
    func others(botID: Int) -> [Participant] { participants.filter { $0.id != botID } }

    /// A 1:1 DM between the bot and one other user.
    func isOneToOne(botID: Int) -> Bool {
        isDirect && others(botID: botID).count == 1 && participants.contains { $0.id == botID }
    }
}
