import Foundation
import XCTest
import TestSupport
@testable import CurlHTTP

/// A running real Zulip server (installed and started by `scripts/zulip-server`) as the tests
/// see it: the accounts of its zuliprc files, REST calls as its humans (the way a person's
/// client would send and read DMs), and the script for restarts and per-user rate limits.
///
/// ```swift
/// let zulip = try RealZulip(rcDir: ProcessInfo.processInfo.environment["REAL_ZULIP_RC_DIR"]!)
/// let m = try zulip.dm(from: zulip.alice, to: [zulip.bot], "code certus")
/// let replies = zulip.waitForReplies(to: zulip.alice, after: m)
/// ```
final class RealZulip {
    struct Account {
        let email: String
        let key: String
        let id: Int
    }

    /// A message as one user reads it (raw Markdown).
    struct Message {
        let id: Int
        let senderID: Int
        let content: String
        let type: String
        /// User ids of a DM's participants (empty for channel messages).
        let participants: Set<Int>
    }

    let site: String
    let bot: Account
    let alice: Account
    let bob: Account
    let owner: Account
    /// The server's folder (`ZULIP_SERVER_DIR`), for `scripts/zulip-server`.
    let serverDir: String
    private let http = HTTPClient(options: HTTPClientOptions(userAgent: "bot-tests"))

    init(rcDir: String) throws {
        func rc(_ name: String) throws -> [String: String] {
            let text = try String(contentsOfFile: rcDir + "/\(name).zuliprc", encoding: .utf8)
            var values: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { values[parts[0]] = parts[1] }
            }
            return values
        }
        let env = (try? String(contentsOfFile: rcDir + "/env", encoding: .utf8)) ?? ""
        serverDir = env.split(separator: "\n").first { $0.hasPrefix("ZULIP_SERVER_DIR=") }.map { String($0.dropFirst(17)) }
            ?? (rcDir as NSString).deletingLastPathComponent
        site = try rc("bot")["site"] ?? "http://127.0.0.1:9991"
        var accounts: [Account] = []
        for name in ["bot", "alice", "bob", "owner"] {
            let values = try rc(name)
            let email = values["email"] ?? "", key = values["key"] ?? ""
            let me = try Self.call(http, site, email, key, "GET", "/users/me")
            guard let id = me.json["user_id"] as? Int else {
                throw NSError(domain: "RealZulip", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(name): GET /users/me answered \(me.status)"])
            }
            accounts.append(Account(email: email, key: key, id: id))
        }
        (bot, alice, bob, owner) = (accounts[0], accounts[1], accounts[2], accounts[3])
    }

    // MARK: REST

    private static func call(_ http: HTTPClient, _ site: String, _ email: String, _ key: String, _ method: String, _ path: String,
                             _ params: [(String, String)] = []) throws -> (status: Int, json: [String: Any]) {
        var request = HTTPClientRequest(method: method, url: site + "/api/v1" + path, timeout: .seconds(30))
        let form = FormEncoding.encode(params)
        if method == "GET" {
            if !params.isEmpty { request.url += "?" + String(decoding: form, as: UTF8.self) }
        } else {
            request.body = form
            request.headers = [("Content-Type", "application/x-www-form-urlencoded")]
        }
        request.basicAuth = (user: email, password: key)
        let response = try http.perform(request)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
        return (response.status, json)
    }

    /// A call as `account`; fails the test unless Zulip answers success.
    @discardableResult
    func call(_ account: Account, _ method: String, _ path: String, _ params: [(String, String)] = []) throws -> [String: Any] {
        let answer = try Self.call(http, site, account.email, account.key, method, path, params)
        guard answer.status == 200, answer.json["result"] as? String == "success" else {
            throw NSError(domain: "RealZulip", code: answer.status,
                          userInfo: [NSLocalizedDescriptionKey: "\(method) \(path) as \(account.email): \(answer.status) \(answer.json["msg"] ?? "")"])
        }
        return answer.json
    }

    /// A DM from `from` to `to` (one account: 1:1 with it; more: a group DM); its message id.
    @discardableResult
    func dm(from: Account, to: [Account], _ content: String) throws -> Int {
        let ids = to.map { String($0.id) }.joined(separator: ",")
        return try call(from, "POST", "/messages", [("type", "direct"), ("to", "[\(ids)]"), ("content", content)])["id"] as? Int ?? -1
    }

    @discardableResult
    func channelMessage(from: Account, channel: String, topic: String, _ content: String) throws -> Int {
        try call(from, "POST", "/messages", [("type", "stream"), ("to", channel), ("topic", topic), ("content", content)])["id"] as? Int ?? -1
    }

    func edit(_ account: Account, message id: Int, _ content: String) throws {
        try call(account, "PATCH", "/messages/\(id)", [("content", content)])
    }

    /// Messages `account` can see after message `after`, oldest first (at most 200).
    func messages(as account: Account, after: Int) throws -> [Message] {
        let page = try call(account, "GET", "/messages", [
            ("anchor", String(after)), ("include_anchor", "false"), ("num_before", "0"), ("num_after", "200"),
            ("apply_markdown", "false"),
        ])
        return (page["messages"] as? [[String: Any]] ?? []).map { m in
            let recipients = m["display_recipient"] as? [[String: Any]] ?? []
            return Message(
                id: m["id"] as? Int ?? 0, senderID: m["sender_id"] as? Int ?? 0, content: m["content"] as? String ?? "",
                type: m["type"] as? String ?? "", participants: Set(recipients.compactMap { $0["id"] as? Int }))
        }
    }

    /// The contents message `id` has had, oldest first, read from Zulip's edit history. That is
    /// read from the database; `GET /messages` serves a cache that an edit racing a read can
    /// leave holding the old version (seen on Zulip 10: 4 of 40 edits made while three clients
    /// read stayed unedited there, though the history had them).
    func contentHistory(as account: Account, message id: Int) throws -> [String] {
        let page = try call(account, "GET", "/messages/\(id)/history", [])
        return (page["message_history"] as? [[String: Any]] ?? []).compactMap { $0["content"] as? String }
    }

    /// The bot's messages in its 1:1 conversation with `user` after `after`.
    func botReplies(to user: Account, after: Int) -> [Message] {
        ((try? messages(as: user, after: after)) ?? []).filter { $0.senderID == bot.id && $0.participants == [user.id, bot.id] }
    }

    /// Waits until the bot has sent at least `count` messages to `user` after `after`.
    @discardableResult
    func waitForReplies(to user: Account, after: Int, count: Int = 1, timeout: TimeInterval = 15) -> [Message] {
        var replies: [Message] = []
        _ = TestProcess.waitUntil(timeout: timeout) {
            replies = botReplies(to: user, after: after)
            if replies.count >= count { return true }
            usleep(150_000)  // ~6 reads a second: the real server does real work for each
            return false
        }
        return replies
    }

    /// The newest message id `account` can see (0 when none).
    func newestMessageID(as account: Account) throws -> Int {
        let page = try call(account, "GET", "/messages", [("anchor", "newest"), ("num_before", "1"), ("num_after", "0")])
        return (page["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? Int }.max() ?? 0
    }

    // MARK: scripts/zulip-server

    /// Runs `scripts/zulip-server ARGS` for this server (root); its status and output. The
    /// output goes to files, not pipes: the daemons a restart starts must not hold our pipe.
    @discardableResult
    func script(_ arguments: [String], timeout: TimeInterval = 120) -> (status: Int32, output: String) {
        let dir = TemporaryDirectory(prefix: "zulip-server")
        guard let run = try? TestProcess(
            executable: ZulipEmulator.repoRoot + "/scripts/zulip-server", arguments: arguments,
            environment: ["ZULIP_SERVER_DIR": serverDir, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            directory: dir.path)
        else { return (-1, "scripts/zulip-server could not be started") }
        guard let status = run.waitForExit(timeout: timeout) else {
            run.signal(SIGKILL)
            return (-1, "scripts/zulip-server \(arguments.joined(separator: " ")) did not finish within \(Int(timeout)) s: \(run.stdout)\(run.stderr)")
        }
        return (status, run.stdout + run.stderr)
    }

    /// Zulip's own API rate limit for `account` ("SECONDS:REQUESTS", or "default": as installed).
    func setRateLimit(_ account: Account, _ rules: String) {
        let result = script(["rate-limit", account.email, rules])
        XCTAssertEqual(result.status, 0, "scripts/zulip-server rate-limit: \(result.output)")
    }
}
