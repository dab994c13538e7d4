/// An emoji reaction on a message, as `reaction` events and message objects carry it: the
/// bot reads thumbs up and down on its asks as votes. Zulip names 👍 `+1` (aliases
/// `thumbs_up`, `like`) with code `1f44d`, and 👎 `-1` (`thumbs_down`) with `1f44e`.
///
/// ```swift
/// ZulipReaction(user_id: 33, emoji_name: "+1", emoji_code: "1f44d", reaction_type: "unicode_emoji").vote   // .up
/// ```
struct ZulipReaction: Decodable, Sendable, Equatable {
    var user_id: Int
    var emoji_name: String
    var emoji_code: String?
    var reaction_type: String?

    /// The vote it stands for, if any.
    var vote: AccessWorkflow.Reaction? { Self.vote(name: emoji_name, code: emoji_code, type: reaction_type) }

    static func vote(name: String?, code: String?, type: String?) -> AccessWorkflow.Reaction? {
        // A custom emoji named "+1" is not the thumbs up.
        if let type, type != "unicode_emoji" { return nil }
        if code == "1f44d" || ["+1", "thumbs_up", "like"].contains(name ?? "") { return .up }
        if code == "1f44e" || ["-1", "thumbs_down"].contains(name ?? "") { return .down }
        return nil
    }
}

extension ZulipReaction {
    /// Zulip's JSON field names.
    private enum CodingKeys: String, CodingKey {
        case user_id, emoji_name, emoji_code, reaction_type, user
    }

    /// The deprecated `user` object's `id` stands in for `user_id` on servers before FL 2.
    private struct LegacyUser: Decodable { var id: Int?; var user_id: Int? }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try? c.decodeIfPresent(LegacyUser.self, forKey: .user)
        guard let user = (try? c.decodeIfPresent(Int.self, forKey: .user_id)) ?? legacy?.id ?? legacy?.user_id else {
            throw DecodingError.keyNotFound(CodingKeys.user_id, .init(codingPath: decoder.codingPath, debugDescription: "no user_id"))
        }
        user_id = user
        emoji_name = try c.decode(String.self, forKey: .emoji_name)
        emoji_code = try? c.decodeIfPresent(String.self, forKey: .emoji_code)
        reaction_type = try? c.decodeIfPresent(String.self, forKey: .reaction_type)
    }
}
