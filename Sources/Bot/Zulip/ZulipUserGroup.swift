/// A Zulip user group as `POST /register` lists them (`realm_user_groups`) and a `user_group`
/// `add` event carries one: only the fields the bot uses. `members` are the direct members
/// (register leaves deactivated users out; the server keeps them in the group), and
/// `direct_subgroup_ids` the groups whose members belong too. Zulip 10 deactivates groups
/// instead of deleting them (`deactivated`, FL 290).
///
/// ```swift
/// for group in queue.realm_user_groups ?? [] where group.name == "ops-leads" { ... }
/// ```
struct ZulipUserGroup: Decodable, Sendable, Equatable {
    var id: Int
    var name: String
    var members: [Int] = []
    var direct_subgroup_ids: [Int] = []
    var deactivated: Bool = false
}

extension ZulipUserGroup {
    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case id, name, members, direct_subgroup_ids, deactivated
    }

    /// Lenient where servers differ: no subgroups before FL 131, no `deactivated` before FL 290.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(Int.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        members = try c.decodeIfPresent([Int].self, forKey: .members) ?? []
        direct_subgroup_ids = (try? c.decodeIfPresent([Int].self, forKey: .direct_subgroup_ids)) ?? []
        deactivated = (try? c.decodeIfPresent(Bool.self, forKey: .deactivated)) ?? false
    }
}

/// The `data` of a `user_group` `update` event: the fields that changed (a rename, a
/// deactivation); the bot ignores the others.
struct ZulipUserGroupChange: Decodable, Sendable, Equatable {
    var name: String? = nil
    var deactivated: Bool? = nil
}
