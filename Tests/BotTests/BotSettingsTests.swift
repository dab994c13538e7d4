import Foundation
import TestSupport
import XCTest
@testable import Bot
@testable import Platform

/// The bot's settings table against what reads it, what prints it and what documents it.
final class BotSettingsTests: XCTestCase {
    static let readmeHeadings = ["### Bot configuration"]

    /// A variable missing on either side, or a default that differs, fails here.
    func testTheREADMETableAgreesWithTheSettingsTable() {
        XCTAssertEqual(ReadmeSettings.mismatches(BotSettings.table, headings: Self.readmeHeadings), [])
    }

    func testTheREADMECheckCatchesDrift() throws {
        let readme = ReadmeSettings.readme
        let row = try XCTUnwrap(readme.split(separator: "\n").first { $0.hasPrefix("| `BOT_REPLY_DEADLINE_MS` |") })
        XCTAssertEqual(ReadmeSettings.mismatches(BotSettings.table, headings: Self.readmeHeadings,
            in: readme.replacingOccurrences(of: row, with: row.replacingOccurrences(of: "| 10000 |", with: "| 1000 |"))),
            ["BOT_REPLY_DEADLINE_MS: README default '1000', settings table '10000'"])
        XCTAssertEqual(ReadmeSettings.mismatches(BotSettings.table, headings: Self.readmeHeadings,
            in: readme.replacingOccurrences(of: "`ZULIP_SITE` (`ZULIP_ORG_URL`)", with: "`ZULIP_SITE`")),
            ["ZULIP_ORG_URL is in the totp-bot settings table but not in the README"])
    }

    /// The configuration reads every variable of the table and none besides.
    func testTheConfigurationReadsExactlyTheTablesVariables() throws {
        let log = Environment.ReadLog()
        let dir = TemporaryDirectory(prefix: "botsettings")
        let env = Environment([
            "ZULIP_SITE": "https://chat.example.com", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "key",
            "GATEWAY_URLS": "http://127.0.0.1:1", "GATEWAY_TOKEN": "token", "BOT_STATE_DIR": dir.path,
        ]).recordingReads(into: log)
        _ = try BotConfiguration.load(environment: env, zuliprcPath: nil)
        let table = BotSettings.table
        // The aliases are read only when the main name is unset.
        let declared = Set(table.all.map(\.name))
        XCTAssertEqual(declared.subtracting(log.all), [], "declared but never read")
        let undeclared = log.all.filter { name in
            table.setting(named: name) == nil && !(name.hasSuffix("_FILE") && table.fileVariables.contains(String(name.dropLast(5))))
        }
        XCTAssertEqual(undeclared, [], "read but not in the settings table")
    }

    func testHelpListsEveryVariable() {
        let help = HelpText.bot
        let flat = help.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        for row in BotSettings.table.all {
            XCTAssertTrue(help.contains("\n  " + row.name), "--help does not list \(row.name)")
            if !row.defaultText.isEmpty { XCTAssertTrue(flat.contains("(default: \(row.defaultText))"), row.name) }
            for alias in row.aliases { XCTAssertTrue(help.contains(alias), alias) }
        }
        XCTAssertTrue(flat.contains("NAME_FILE=/path: ZULIP_SITE, ZULIP_ORG_URL, ZULIP_EMAIL, ZULIP_BOT_EMAIL, ZULIP_API_KEY, ZULIP_BOT_TOKEN, GATEWAY_URLS, GATEWAY_TOKEN, BOT_ACL, BOT_POLICY."), help)
    }

    /// One environment file may serve both programs: every variable of the bot's that the
    /// gateway's unknown-`*_FILE` check looks at (GATEWAY_*, TOTP_*) passes it.
    func testTheGatewayLetsTheBotsFileVariablesThrough() throws {
        var env: [String: String] = ["TOTP_SEED_DEMO": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"]
        var names: [String] = []
        for row in BotSettings.table.all {
            for name in row.names where name.hasPrefix("GATEWAY_") || name.hasPrefix("TOTP_") {
                if row.fileVariant { names.append(name + "_FILE") }
                if name.hasSuffix("_FILE") { names.append(name) }
            }
        }
        XCTAssertEqual(names.sorted(), ["GATEWAY_CA_FILE", "GATEWAY_CLIENT_CERT_FILE", "GATEWAY_CLIENT_KEY_FILE", "GATEWAY_TOKEN_FILE", "GATEWAY_URLS_FILE"])
        for name in names { env[name] = "/run/secrets/x" }
        let check = TestProcess.run(TestProcess.productsDirectory + "/totp-gateway", ["--check-config"], environment: env)
        XCTAssertFalse(check.stderr.contains("is not a totp-gateway variable"), check.stderr)
        XCTAssertEqual(check.status, 0, check.stderr)
    }

    /// The shared kinds' messages, as the bot shows them.
    func testSharedKindsRefuseWithTheirMessages() {
        let dir = TemporaryDirectory(prefix: "botsettings")
        func problems(_ env: [String: String]) -> [String] {
            let base = ["ZULIP_SITE": "https://chat.example.com", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "key",
                        "GATEWAY_URLS": "http://127.0.0.1:1", "GATEWAY_TOKEN": "token", "BOT_STATE_DIR": dir.path]
            do {
                _ = try BotConfiguration.load(environment: Environment(base.merging(env) { $1 }), zuliprcPath: nil)
                return []
            } catch { return error.problems.map(\.description) }
        }
        XCTAssertEqual(problems(["BOT_LISTEN": "localhost:9101"]),
            ["BOT_LISTEN: 'localhost' is not an IPv4 or IPv6 address; use e.g. 127.0.0.1, 0.0.0.0 or [::]"])
        XCTAssertEqual(problems(["BOT_LISTEN": "[::1]:9101"]), [])
        XCTAssertEqual(problems(["BOT_EXPIRY_EDIT": "maybe"]), ["BOT_EXPIRY_EDIT: must be 1 or 0 (true/false, yes/no, on/off)"])
        XCTAssertEqual(problems(["BOT_REPLY_DEADLINE_MS": "50"]), ["BOT_REPLY_DEADLINE_MS: must be a number of milliseconds from 100 to 120000"])
        XCTAssertEqual(problems(["BOT_USER_RATE_BURST": "0"]), ["BOT_USER_RATE_BURST: must be a number from 1 to 1000"])
        XCTAssertEqual(problems(["BOT_USER_RATE_PER_MINUTE": "0"]), ["BOT_USER_RATE_PER_MINUTE: must be a number from 0.01 to 6000"])
        XCTAssertEqual(problems(["BOT_LOG_LEVEL": "loud"]), ["BOT_LOG_LEVEL: must be debug, info, warning or error"])
        XCTAssertEqual(problems(["GATEWAY_URLS": "ftp://a, http://b, gopher://c"]),
            ["GATEWAY_URLS: 'ftp://a' must start with http:// or https://; 'gopher://c' must start with http:// or https://"])
        XCTAssertEqual(problems(["GATEWAY_URLS": " , "]),
            ["GATEWAY_URLS: not set; give comma-separated gateway base URLs, e.g. http://127.0.0.1:8000,http://127.0.0.1:8081"])
    }
}
