import XCTest
@testable import Bot

/// The command line of `totp-bot`.
final class BotCommandLineTests: XCTestCase {
    func testCommands() throws {
        XCTAssertEqual(try BotCommandLine.parse([]), .run(zuliprc: nil))
        XCTAssertEqual(try BotCommandLine.parse(["--zuliprc", "/etc/zuliprc"]), .run(zuliprc: "/etc/zuliprc"))
        XCTAssertEqual(try BotCommandLine.parse(["--config-file", "rc", "--check-config"]), .checkConfig(zuliprc: "rc"))
        XCTAssertEqual(try BotCommandLine.parse(["--zuliprc=rc"]), .run(zuliprc: "rc"))
        XCTAssertEqual(try BotCommandLine.parse(["--healthcheck", "http://x/healthz"]), .healthcheck(url: "http://x/healthz"))
        XCTAssertEqual(try BotCommandLine.parse(["-h"]), .help)
        XCTAssertThrowsError(try BotCommandLine.parse(["--zuliprc"])) { XCTAssertEqual("\($0)", "--zuliprc needs a path to a zuliprc file") }
        XCTAssertThrowsError(try BotCommandLine.parse(["--zuliprcx"])) { XCTAssertEqual("\($0)", "unknown argument '--zuliprcx'; see totp-bot --help") }
    }
}
