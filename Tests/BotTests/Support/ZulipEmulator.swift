import Foundation
import XCTest
import TestSupport
@testable import CurlHTTP
import TextSupport

/// The test Zulip (tools/test-zulip/test_zulip.py) as a real process on an ephemeral port,
/// with its request log, driven through its /control API.
final class ZulipEmulator {
    static let botEmail = "bot@example.com"
    static let botKey = "zulip-test-key-0123456789"

    static var repoRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// `.venv/bin/python` at the repository root (CI's scripts/bootstrap makes it), else the
    /// first `python3` on PATH that has spec_check's modules, else /usr/bin/python3.
    static let python: String = {
        let venv = repoRoot + "/.venv/bin/python"
        if FileManager.default.isExecutableFile(atPath: venv) { return venv }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin"] {
            let candidate = "\(dir)/python3"
            guard FileManager.default.isExecutableFile(atPath: candidate) else { continue }
            // Print the real interpreter: a pyenv shim needs the caller's environment to work.
            let probe = TestProcess.run(candidate, ["-c", "import sys, jsonschema, yaml, referencing; print(sys.executable)"],
                                         environment: ProcessInfo.processInfo.environment, timeout: 20)
            let real = probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if probe.status == 0, FileManager.default.isExecutableFile(atPath: real) { return real }
        }
        return "/usr/bin/python3"
    }()

    let server: PythonServer
    let requestLog: String
    private let http = HTTPClient(options: HTTPClientOptions(userAgent: "bot-tests"))

    var process: TestProcess { server.process }
    var port: Int { server.port }
    var site: String { server.site }

    init(dir: String, extraArgs: [String] = []) throws {
        requestLog = dir + "/zulip-requests.jsonl"
        server = try PythonServer(
            script: "test_zulip.py",
            arguments: ["--bot-email", Self.botEmail, "--bot-key", Self.botKey, "--heartbeat", "1", "--request-log", requestLog] + extraArgs,
            dir: dir)
    }

    // MARK: control API

    @discardableResult
    func control(_ method: String, _ path: String, _ body: [String: Any]? = nil) -> [String: Any] {
        server.control(method, path, body)
    }

    @discardableResult
    func addUser(_ email: String, name: String) -> Int {
        control("POST", "/users", ["email": email, "full_name": name])["id"] as? Int ?? -1
    }

    /// A DM from `from` to the bot (plus `others` for a group DM); returns the message id.
    @discardableResult
    func dm(from: String, _ content: String, others: [String] = []) -> Int {
        var body: [String: Any] = ["from": from, "content": content]
        if !others.isEmpty { body["to"] = [Self.botEmail] + others }
        return control("POST", "/send", body)["id"] as? Int ?? -1
    }

    /// A DM sent by the bot itself through the API (as an earlier bot process would have).
    @discardableResult
    func sendAsBot(toUserID id: Int, _ content: String) -> Int {
        var request = HTTPClientRequest(method: "POST", url: site + "/api/v1/messages", timeout: .seconds(10))
        request.body = FormEncoding.encode([("type", "direct"), ("to", "[\(id)]"), ("content", content)])
        request.headers = [("Content-Type", "application/x-www-form-urlencoded")]
        request.basicAuth = (user: Self.botEmail, password: Self.botKey)
        guard let response = try? http.perform(request),
            let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any], let sent = json["id"] as? Int
        else {
            XCTFail("sending as the bot failed")
            return -1
        }
        return sent
    }

    /// The ids of the queues the test Zulip holds now (registered and not deleted or expired).
    func queueIDs() -> [String] {
        (control("GET", "/queues")["queues"] as? [[String: Any]] ?? []).compactMap { $0["queue_id"] as? String }
    }

    /// The next `count` calls of `method` `path` are handled, but their answer is held back with
    /// the socket open: sent after `seconds`, or never (until the client closes) when nil.
    func holdAnswer(count: Int = 1, method: String, path: String, seconds: Double? = nil) {
        var body: [String: Any] = ["count": count, "method": method, "path": path]
        if let seconds { body["seconds"] = seconds }
        control("POST", "/hold-answer", body)
    }

    /// Logged API requests with this method and path (`/api/v1/...`).
    func requests(_ method: String, _ path: String) -> [[String: Any]] {
        requests().filter { $0["method"] as? String == method && $0["path"] as? String == path }
    }

    /// A user group as an administrator would make it; returns its id.
    @discardableResult
    func createGroup(_ name: String, members: [String]) -> Int {
        control("POST", "/groups", ["name": name, "members": members])["id"] as? Int ?? -1
    }

    /// Adds and removes members of a group (`user_group` events).
    func changeGroup(_ name: String, add: [String] = [], remove: [String] = []) {
        control("POST", "/group-members", ["group": name, "add": add, "remove": remove])
    }

    /// `from` reacts to message `id` (`+1`, `-1`...), or takes the reaction back.
    func react(from: String, to id: Int, _ emoji: String = "+1", remove: Bool = false) {
        control("POST", "/react", ["from": from, "message_id": id, "emoji_name": emoji, "remove": remove])
    }

    /// A stream as its owner would create it (public; the bot is not subscribed).
    func createStream(_ name: String, subscribers: [String] = []) {
        control("POST", "/streams", ["name": name, "subscribers": subscribers])
    }

    func setActive(_ user: String, _ active: Bool) {
        control("POST", "/update-user", ["user": user, "is_active": active])
    }

    @discardableResult
    func streamMessage(from: String, stream: String, _ content: String) -> Int {
        control("POST", "/send", ["from": from, "stream": stream, "topic": "t", "content": content])["id"] as? Int ?? -1
    }

    struct Message {
        var id: Int
        var senderEmail: String
        var content: String
        var participants: [String]
        var edited: Bool
        var type: String
    }

    func messages(after: Int = 0) -> [Message] {
        let list = control("GET", "/messages?after=\(after)")["messages"] as? [[String: Any]] ?? []
        return list.map { m in
            let participants = (m["participants"] as? [Any] ?? []).map { p -> String in
                if let d = p as? [String: Any] { return d["email"] as? String ?? "\(d["id"] ?? "")" }
                return "\(p)"
            }
            return Message(
                id: m["id"] as? Int ?? 0, senderEmail: m["sender_email"] as? String ?? "", content: m["content"] as? String ?? "",
                participants: participants, edited: m["edited"] as? Bool ?? false, type: m["type"] as? String ?? "")
        }
    }

    /// Bot messages in the 1:1 conversation with `user`, after message `after`.
    func botReplies(to user: String, after: Int = 0) -> [Message] {
        messages(after: after).filter { $0.senderEmail == Self.botEmail && Set($0.participants) == Set([user, Self.botEmail]) }
    }

    /// Waits until the bot has sent at least `count` messages to `user` after `after`.
    @discardableResult
    func waitForReplies(to user: String, after: Int, count: Int = 1, timeout: TimeInterval = 10) -> [Message] {
        var replies: [Message] = []
        _ = TestProcess.waitUntil(timeout: timeout) {
            replies = botReplies(to: user, after: after)
            return replies.count >= count
        }
        return replies
    }

    func requests() -> [[String: Any]] {
        control("GET", "/requests?after=0")["requests"] as? [[String: Any]] ?? []
    }

    /// Runs spec_check over the whole request log; returns (violations, output).
    func specCheck() -> (violations: Int, output: String) { Self.specCheck(log: requestLog) }

    /// Runs spec_check over a request log (this emulator's, or a recording proxy's).
    static func specCheck(log: String) -> (violations: Int, output: String) {
        let result = TestProcess.run(python, [repoRoot + "/tools/test-zulip/spec_check.py", "--spec",
            repoRoot + "/tools/test-zulip/spec/zulip.yaml", "--log", log, "--quiet"], timeout: 60)
        let text = result.stdout + result.stderr
        let line = text.split(separator: "\n").last { $0.hasPrefix("spec-check:") } ?? ""
        let parts = line.split(separator: " ")
        let v = parts.firstIndex(of: "violations").flatMap { i in i > 0 ? Int(parts[i - 1]) : nil } ?? -1
        return (v, text)
    }
}
