import Foundation
import TestSupport
import XCTest
import TextSupport

/// Starts a real `totp-gateway` on 127.0.0.1 with an ephemeral port and the given environment;
/// reads the bound port from its "listening" log line.
final class GatewayHarness {
    static let seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    static let rfcSeed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  // "12345678901234567890"
    static let botToken = "bot-token-Zq8vN3xK7pLw2RtY9mHc"
    static let limitedToken = "limited-token-Q7wE4rT9yU2iO6pA3s"

    let dir: String
    let process: TestProcess
    let port: Int

    static var binary: String { TestProcess.productsDirectory + "/totp-gateway" }

    static func baseEnvironment(dir: String) -> [String: String] {
        [
            "TOTP_SEED_DEMO": seed,
            "TOTP_SEED_RFC": "otpauth://totp/RFC:test?secret=\(rfcSeed)&digits=8&algorithm=SHA1",
            "GATEWAY_TOKENS": "bot:\(botToken):*;limited:\(limitedToken):demo",
            "GATEWAY_INSTANCE": "gw-test",
            "GATEWAY_DRAIN_SECONDS": "1",
            "GATEWAY_EVENT_LOOPS": "2",
        ]
    }

    static func makeDirectory() -> String {
        let dir = NSTemporaryDirectory() + "gw-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    init(environment: [String: String]? = nil, extra: [String: String] = [:], dir: String? = nil) throws {
        let dir = dir ?? Self.makeDirectory()
        self.dir = dir
        var env = environment ?? Self.baseEnvironment(dir: dir)
        for (k, v) in extra { env[k] = v }
        process = try TestProcess(executable: Self.binary, arguments: ["--listen", "127.0.0.1:0"], environment: env, directory: dir)
        var found: Int? = nil
        _ = TestProcess.waitUntil(timeout: 10) { [process] in
            found = process.logLines.first { $0["event"] as? String == "listening" }?["port"] as? Int
            return found != nil || !process.process.isRunning
        }
        guard let found else {
            throw NSError(domain: "GatewayHarness", code: 1, userInfo: [NSLocalizedDescriptionKey: "gateway did not start: \(process.stderr)"])
        }
        // The lifecycle takes SIGTERM, SIGINT and SIGHUP before anything else starts, so once
        // "listening" is logged every signal is handled: nothing to wait for.
        port = found
    }

    deinit {
        process.signal(SIGKILL)
        process.waitForExit(timeout: 5)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func get(_ target: String, token: String? = GatewayHarness.botToken, headers: [String: String] = [:], method: String = "GET") -> RawHTTP.Response? {
        var h = headers
        if let token { h["Authorization"] = "Bearer \(token)" }
        return RawHTTP.get(port: port, target, headers: h, method: method)
    }

    func write(_ name: String, _ text: String) -> String {
        let path = dir + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    /// The code oathtool computes now for a base32 seed (an independent implementation).
    static func oathtool(_ args: [String]) -> String {
        TestProcess.run("/usr/bin/oathtool", args).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
