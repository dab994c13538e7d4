/// One event from `GET /events`: a `message`, a `realm_user` change, a `user_group` change, a
/// `reaction`, a `heartbeat`, or another type the bot ignores.
///
/// ```swift
/// for event in batch.events { lastEventID = max(lastEventID, event.id) }
/// ```
struct ZulipEvent: Decodable, Sendable {
    var id: Int
    var type: String
    var message: ZulipMessage? = nil
    var flags: [String]? = nil
    /// On the event of a message this queue's client sent with `local_id`: that id.
    var local_message_id: String? = nil
    /// `realm_user` events: `add`, `update` or `remove`, and whom they are about.
    var op: String? = nil
    var person: ZulipPersonChange? = nil
    /// `user_group` events: the group (`add`), or its id and what changed (`update`:
    /// `data`; `add_members`/`remove_members`: `user_ids`; `add_subgroups`/`remove_subgroups`:
    /// `direct_subgroup_ids`; `remove`).
    var group: ZulipUserGroup? = nil
    var group_id: Int? = nil
    var user_ids: [Int]? = nil
    var direct_subgroup_ids: [Int]? = nil
    var data: ZulipUserGroupChange? = nil
    /// `reaction` events (`op` add or remove): who reacted to which message with what.
    var message_id: Int? = nil
    var user_id: Int? = nil
    var emoji_name: String? = nil
    var emoji_code: String? = nil
    var reaction_type: String? = nil
}

extension ZulipEvent {
    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case id, type, message, flags, local_message_id, op, person
        case group, group_id, user_ids, direct_subgroup_ids, data
        case message_id, user_id, emoji_name, emoji_code, reaction_type
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        type = try c.decode(String.self, forKey: .type)
        message = try c.decodeIfPresent(ZulipMessage.self, forKey: .message)
        flags = try c.decodeIfPresent([String].self, forKey: .flags)
        local_message_id = try c.decodeIfPresent(String.self, forKey: .local_message_id)
        op = try? c.decodeIfPresent(String.self, forKey: .op)
        // Leniently: an event shape this bot does not know must not fail the whole batch (the
        // poll would be retried forever); the directory is rebuilt at every register anyway.
        person = try? c.decodeIfPresent(ZulipPersonChange.self, forKey: .person)
        group = try? c.decodeIfPresent(ZulipUserGroup.self, forKey: .group)
        group_id = try? c.decodeIfPresent(Int.self, forKey: .group_id)
        user_ids = try? c.decodeIfPresent([Int].self, forKey: .user_ids)
        direct_subgroup_ids = try? c.decodeIfPresent([Int].self, forKey: .direct_subgroup_ids)
        data = try? c.decodeIfPresent(ZulipUserGroupChange.self, forKey: .data)
        message_id = try? c.decodeIfPresent(Int.self, forKey: .message_id)
        user_id = try? c.decodeIfPresent(Int.self, forKey: .user_id)
        emoji_name = try? c.decodeIfPresent(String.self, forKey: .emoji_name)
        emoji_code = try? c.decodeIfPresent(String.self, forKey: .emoji_code)
        reaction_type = try? c.decodeIfPresent(String.self, forKey: .reaction_type)
    }
}

/// The body of a successful `GET /events`.
struct ZulipEventBatch: Decodable, Sendable {
    var events: [ZulipEvent]
}

/// An event queue: what `POST /register` returned, plus the last event id seen.
///
/// ```swift
/// var queue = try client.register(featureLevel: 247)
/// let batch = try client.events(queue)
/// ```
struct ZulipQueue: Decodable, Sendable, Equatable {
    var queue_id: String
    var last_event_id: Int
    var zulip_feature_level: Int?
    var event_queue_longpoll_timeout_seconds: Int?
    /// The newest message id the bot could see when the queue was made (with `message` in
    /// `fetch_event_types`): everything after it reaches the queue.
    var max_message_id: Int?
    /// The users when the queue was made (with `realm_user` in `fetch_event_types`); the
    /// queue's `realm_user` events carry every change after it.
    var realm_users: [ZulipUser]?
    var realm_non_active_users: [ZulipUser]?
    var cross_realm_bots: [ZulipUser]?
    /// The user groups when the queue was made (with `realm_user_groups` in
    /// `fetch_event_types`; absent where the server gives the bot none); the queue's
    /// `user_group` events carry every change after it.
    var realm_user_groups: [ZulipUserGroup]?
}

/// `GET /users/me`: the bot's own identity.
struct ZulipOwnUser: Decodable, Sendable {
    var user_id: Int
    var email: String
    var full_name: String?
}

/// `GET /server_settings` (no authentication).
struct ZulipServerSettings: Decodable, Sendable {
    var zulip_feature_level: Int?
    var zulip_version: String?
}

/// `GET /messages/{id}`.
struct ZulipSingleMessage: Decodable, Sendable {
    var message: ZulipMessage
}

/// `GET /messages`.
struct ZulipMessagePage: Decodable, Sendable {
    var messages: [ZulipMessage]
    var found_newest: Bool?
}

/// `POST /messages`.
struct ZulipSentMessage: Decodable, Sendable {
    var id: Int
}

/// An error body: `{"result":"error","msg":...,"code":...}` (the `retry-after` of a 429 too).
struct ZulipErrorBody: Decodable, Sendable {
    var msg: String?
    var code: String?
    var retryAfter: Double?

    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case msg, code
        case retryAfter = "retry-after"
    }
}

/// `{"result":"success"}` with nothing else needed.
struct ZulipEmpty: Decodable, Sendable {}
