import Foundation
import XCTest

/// tools/test-zulip/recording_proxy.py in front of a Zulip server: the bots talk to `site`, the
/// proxy forwards every call and records it with its answer (the test Zulip's request-log
/// format), and can hold, cut or swallow calls (faults a real server cannot be asked for).
///
/// ```swift
/// let proxy = try RecordingProxy(dir: tmp.path, upstream: "http://127.0.0.1:9991")
/// proxy.hold(method: "GET", path: "/api/v1/events")   // the bot's long-poll is cut off
/// proxy.release()
/// let calls = proxy.requests()
/// ```
final class RecordingProxy {
    let server: PythonServer
    let requestLog: String

    var site: String { server.site }

    init(dir: String, upstream: String) throws {
        requestLog = dir + "/proxy-requests.jsonl"
        server = try PythonServer(script: "recording_proxy.py", arguments: ["--upstream", upstream, "--request-log", requestLog], dir: dir)
    }

    /// Every recorded call after `seq`, oldest first.
    func requests(after seq: Int = 0) -> [[String: Any]] {
        server.control("GET", "/requests?after=\(seq)")["requests"] as? [[String: Any]] ?? []
    }

    /// Matching calls get no answer until `release()`: those in flight are cut off from the server.
    func hold(method: String? = nil, path: String? = nil) {
        var body: [String: Any] = [:]
        if let method { body["method"] = method }
        if let path { body["path"] = path }
        server.control("POST", "/hold", body)
    }

    func release() { server.control("POST", "/release") }

    /// The next `count` matching calls are answered by the server, but the answer never reaches the client.
    func swallow(count: Int, method: String? = nil, path: String? = nil) {
        var body: [String: Any] = ["count": count]
        if let method { body["method"] = method }
        if let path { body["path"] = path }
        server.control("POST", "/swallow", body)
    }

    /// Parameters added to every `POST /register` ([:] removes them).
    func registerParams(_ params: [String: String]) { server.control("POST", "/register-params", ["params": params]) }
}
