/// A user as `POST /register` lists them (`realm_users`, `realm_non_active_users`,
/// `cross_realm_bots`, with `realm_user` in `fetch_event_types`) and as a `realm_user` `add`
/// event carries them: only the fields the bot uses. `email` is the Zulip API email (a
/// placeholder such as `user31@chat.example.com` when the realm hides addresses from the
/// bot); `delivery_email` the real address, or null when hidden.
///
/// ```swift
/// let queue = try zulip.register(featureLevel: 247)
/// for user in queue.realm_users ?? [] where user.is_bot { ... }
/// ```
struct ZulipUser: Decodable, Sendable, Equatable {
    var user_id: Int
    var email: String
    var delivery_email: String? = nil
    var is_bot: Bool = false
    var full_name: String? = nil
    /// Absent in register's lists (which of them a user is in says it); present in events.
    var is_active: Bool? = nil
}

extension ZulipUser {
    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case user_id, email, delivery_email, is_bot, is_active, full_name
    }

    /// Lenient where the spec allows absence: a user without `is_bot` is not a bot.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user_id = try c.decode(Int.self, forKey: .user_id)
        email = try c.decodeIfPresent(String.self, forKey: .email) ?? ""
        delivery_email = try c.decodeIfPresent(String.self, forKey: .delivery_email)
        is_bot = try c.decodeIfPresent(Bool.self, forKey: .is_bot) ?? false
        full_name = try? c.decodeIfPresent(String.self, forKey: .full_name)
        is_active = try c.decodeIfPresent(Bool.self, forKey: .is_active)
    }
}
