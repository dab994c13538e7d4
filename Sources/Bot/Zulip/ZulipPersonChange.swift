/// The `person` of a `realm_user` event, whatever its `op`: `add` carries a whole user, an
/// `update` the user id and one changed field (`new_email`, `delivery_email`, `is_active`...),
/// `remove` (deactivation before FL 222) the user id. `delivery_email` distinguishes "not in
/// this event" (nil) from "now hidden from the bot" (`.some(nil)`).
///
/// ```swift
/// if event.type == "realm_user", let person = event.person { directory.apply(op: event.op, person) }
/// ```
struct ZulipPersonChange: Decodable, Sendable, Equatable {
    var user_id: Int
    var email: String? = nil
    var new_email: String? = nil
    var delivery_email: String?? = nil
    var is_bot: Bool? = nil
    var is_active: Bool? = nil
    var full_name: String? = nil
}

extension ZulipPersonChange {
    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case user_id, email, new_email, delivery_email, is_bot, is_active, full_name
    }

    /// Keeps a present `null` apart from an absent field (`delivery_email`).
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        user_id = try c.decode(Int.self, forKey: .user_id)
        email = try c.decodeIfPresent(String.self, forKey: .email)
        new_email = try c.decodeIfPresent(String.self, forKey: .new_email)
        delivery_email = c.contains(.delivery_email) ? .some(try c.decodeIfPresent(String.self, forKey: .delivery_email)) : nil
        is_bot = try c.decodeIfPresent(Bool.self, forKey: .is_bot)
        is_active = try c.decodeIfPresent(Bool.self, forKey: .is_active)
        full_name = try? c.decodeIfPresent(String.self, forKey: .full_name)
    }
}
