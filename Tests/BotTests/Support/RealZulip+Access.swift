import Foundation
import XCTest
import TestSupport

/// What the access workflow's tests do on a real Zulip as its people would: the owner creates
/// user groups and changes their members, creates the notification channel; approvers react.
/// Groups cannot be deleted in Zulip 10.0, only deactivated, and names stay taken: each test
/// uses names of its own (`tag`) and deactivates what it made.
///
/// ```swift
/// let ops = try zulip.createGroup("ops-\(tag)", members: [zulip.bob])
/// try zulip.changeGroup(ops, add: [zulip.alice], remove: [zulip.bob])
/// try zulip.react(zulip.bob, to: askID, "+1")
/// ```
extension RealZulip {
    /// A user group the owner creates (`POST /user_groups/create`); its id.
    func createGroup(_ name: String, members: [Account]) throws -> Int {
        let ids = "[" + members.map { String($0.id) }.joined(separator: ",") + "]"
        let answer = try call(owner, "POST", "/user_groups/create", [("name", name), ("description", "access tests"), ("members", ids)])
        if let id = answer["group_id"] as? Int { return id }
        // Servers before FL 317 do not say; look it up.
        let groups = try call(owner, "GET", "/user_groups")["user_groups"] as? [[String: Any]] ?? []
        guard let id = groups.first(where: { $0["name"] as? String == name })?["id"] as? Int else {
            throw NSError(domain: "RealZulip", code: 1, userInfo: [NSLocalizedDescriptionKey: "group \(name) not found after creating it"])
        }
        return id
    }

    /// The owner adds and removes members (`POST /user_groups/{id}/members`).
    func changeGroup(_ id: Int, add: [Account] = [], remove: [Account] = []) throws {
        var params: [(String, String)] = []
        if !add.isEmpty { params.append(("add", "[" + add.map { String($0.id) }.joined(separator: ",") + "]")) }
        if !remove.isEmpty { params.append(("delete", "[" + remove.map { String($0.id) }.joined(separator: ",") + "]")) }
        try call(owner, "POST", "/user_groups/\(id)/members", params)
    }

    /// The owner deactivates a group (Zulip 10.0 deletes none); failures are not the test's.
    func deactivateGroup(_ id: Int) {
        _ = try? call(owner, "POST", "/user_groups/\(id)/deactivate")
    }

    /// A public channel the owner creates and is subscribed to (the bot is not); its id.
    func createChannel(_ name: String) throws -> Int {
        try call(owner, "POST", "/users/me/subscriptions", [("subscriptions", #"[{"name":"\#(name)","description":"access tests"}]"#)])
        return try call(owner, "GET", "/get_stream_id", [("stream", name)])["stream_id"] as? Int ?? -1
    }

    func archiveChannel(_ id: Int) {
        _ = try? call(owner, "DELETE", "/streams/\(id)")
    }

    /// `account` reacts to message `id` with `emoji` (`+1`, `-1`).
    func react(_ account: Account, to id: Int, _ emoji: String) throws {
        try call(account, "POST", "/messages/\(id)/reactions", [("emoji_name", emoji)])
    }

    /// The bot's first 1:1 message to `user` after `after` that starts with `prefix`.
    func botMessage(to user: Account, after: Int, startingWith prefix: String, timeout: TimeInterval = 15) -> Message? {
        var found: Message? = nil
        _ = TestProcess.waitUntil(timeout: timeout) {
            found = botReplies(to: user, after: after).first { $0.content.hasPrefix(prefix) }
            if found != nil { return true }
            usleep(150_000)
            return false
        }
        return found
    }
}
