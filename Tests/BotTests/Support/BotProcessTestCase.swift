import Foundation
import XCTest
import TestSupport
@testable import CurlHTTP

/// Base of the bot's process tests: each test builds a `BotStack` (test Zulip, gateway, real
/// bots) and ends by checking every request the bots sent and every answer they got against
/// Zulip's OpenAPI spec (spec_check, 0 violations).
///
/// ```swift
/// final class MyTests: BotProcessTestCase {
///     func testX() throws { stack = try BotStack(); try stack.startBot() ... }
/// }
/// ```
class BotProcessTestCase: XCTestCase {
    var stack: BotStack!

    override func tearDown() {
        if let stack {
            let (violations, output) = stack.zulip.specCheck()
            let summary = output.split(separator: "\n").last { $0.hasPrefix("spec-check:") } ?? "no summary"
            print("\(name) \(summary) [\(ZulipEmulator.python)]")
            XCTAssertEqual(violations, 0, "spec_check found violations:\n\(output)")
        }
        stack = nil
        super.tearDown()
    }

    func reply(_ user: String, after: Int, timeout: TimeInterval = 10) -> String? {
        stack.zulip.waitForReplies(to: user, after: after, timeout: timeout).first?.content
    }

    func fetch(_ url: String, bearer: String? = nil) -> String? {
        let http = HTTPClient(options: HTTPClientOptions(userAgent: "bot-tests"))
        var request = HTTPClientRequest(url: url, timeout: .seconds(5))
        if let bearer { request.headers = [("Authorization", "Bearer " + bearer)] }
        guard let r = try? http.perform(request) else { return nil }
        return String(decoding: r.body, as: UTF8.self)
    }

    /// Waits for the bot's log line `event` matching `where`, returns it.
    @discardableResult
    func waitForLine(_ bot: TestProcess, _ event: String, timeout: TimeInterval = 10,
                     where match: ([String: Any]) -> Bool = { _ in true }) -> [String: Any]? {
        var found: [String: Any]? = nil
        _ = TestProcess.waitUntil(timeout: timeout) {
            found = BotStack.lines(bot, event).first(where: match)
            return found != nil
        }
        return found
    }
}
