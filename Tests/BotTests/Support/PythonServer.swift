import Foundation
import XCTest
import TestSupport
@testable import CurlHTTP

/// A loopback tool of tools/test-zulip (the test Zulip, the recording proxy) as a real process:
/// started on port 0 with `--port-file`, its port read back, its JSON `/control` API called,
/// stopped with SIGTERM when released.
///
/// ```swift
/// let server = try PythonServer(script: "recording_proxy.py", arguments: ["--upstream", url], dir: dir)
/// server.control("POST", "/hold", ["path": "/api/v1/events"])
/// ```
final class PythonServer {
    let process: TestProcess
    let port: Int
    private let http = HTTPClient(options: HTTPClientOptions(userAgent: "bot-tests"))

    var site: String { "http://127.0.0.1:\(port)" }

    /// Starts `tools/test-zulip/<script>` with `arguments` plus the port flags; waits for its port.
    init(script: String, arguments: [String], dir: String) throws {
        let name = (script as NSString).deletingPathExtension
        let portFile = dir + "/\(name).port"
        let process = try TestProcess(
            executable: ZulipEmulator.python,
            arguments: [ZulipEmulator.repoRoot + "/tools/test-zulip/" + script, "--host", "127.0.0.1", "--port", "0",
                        "--port-file", portFile] + arguments,
            environment: [:], directory: dir)
        self.process = process
        var found: Int? = nil
        _ = TestProcess.waitUntil(timeout: 15) {
            found = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return found != nil || !process.process.isRunning
        }
        guard let found else {
            throw NSError(domain: "PythonServer", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(script) did not start: \(process.stderr)"])
        }
        port = found
    }

    deinit {
        process.signal(SIGTERM)
        if process.waitForExit(timeout: 5) == nil { process.signal(SIGKILL); process.waitForExit(timeout: 5) }
    }

    /// Calls the control API; the JSON answer (a test failure and `[:]` when there is none).
    @discardableResult
    func control(_ method: String, _ path: String, _ body: [String: Any]? = nil) -> [String: Any] {
        var request = HTTPClientRequest(method: method, url: site + "/control" + path, timeout: .seconds(10))
        if let body {
            request.body = Array(try! JSONSerialization.data(withJSONObject: body))
            request.headers = [("Content-Type", "application/json")]
        }
        guard let response = try? http.perform(request),
            let json = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        else {
            XCTFail("control \(method) \(path) failed")
            return [:]
        }
        return json
    }
}
