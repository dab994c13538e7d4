import Foundation
import TestSupport
import XCTest
@testable import Gateway
@testable import Platform

/// The gateway's settings table against what reads it, what prints it and what documents it.
final class GatewaySettingsTests: XCTestCase {
    static let readmeHeadings = ["## Gateway configuration", "### Seeds"]

    /// A variable missing on either side, or a default that differs, fails here.
    func testTheREADMETablesAgreeWithTheSettingsTable() {
        XCTAssertEqual(ReadmeSettings.mismatches(GatewaySettings.table, headings: Self.readmeHeadings), [])
    }

    /// The check itself catches each kind of drift (so the test above cannot pass vacuously).
    func testTheREADMECheckCatchesDrift() throws {
        let readme = ReadmeSettings.readme
        let listenRow = try XCTUnwrap(readme.split(separator: "\n").first { $0.hasPrefix("| `GATEWAY_LISTEN` |") })
        XCTAssertEqual(ReadmeSettings.mismatches(GatewaySettings.table, headings: Self.readmeHeadings,
            in: readme.replacingOccurrences(of: listenRow + "\n", with: "")),
            ["GATEWAY_LISTEN is in the totp-gateway settings table but not in the README"])
        XCTAssertEqual(ReadmeSettings.mismatches(GatewaySettings.table, headings: Self.readmeHeadings,
            in: readme.replacingOccurrences(of: "| `GATEWAY_DRAIN_SECONDS` | seconds `/healthz` answers 503 before the listener closes | `3` |",
                with: "| `GATEWAY_DRAIN_SECONDS` | seconds `/healthz` answers 503 before the listener closes | `30` |")),
            ["GATEWAY_DRAIN_SECONDS: README default '30', settings table '3'"])
        XCTAssertEqual(ReadmeSettings.mismatches(GatewaySettings.table, headings: Self.readmeHeadings,
            in: readme.replacingOccurrences(of: listenRow + "\n", with: listenRow + "\n| `GATEWAY_LISTEN_BACKLOG` | made up | `5` |\n")),
            ["README documents GATEWAY_LISTEN_BACKLOG, which the totp-gateway settings table does not have"])
    }

    /// The loaders read every variable of the table and none besides (a family is read by
    /// scanning the environment, so it is given one member here).
    func testTheLoadersReadExactlyTheTablesVariables() throws {
        let log = Environment.ReadLog()
        let env = Environment(["TOTP_SEED_DEMO": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "GATEWAY_TOKENS": "bot:bot-value-8Jd3Wq7Zx2Np5Rk9:*"])
            .recordingReads(into: log)
        _ = try GatewayConfiguration.load(environment: env, listenOverride: nil)
        _ = try GatewaySnapshot.load(environment: env, generation: 1, loadedAt: 0)
        let table = GatewaySettings.table
        let declared = Set(table.all.flatMap(\.names))
        let read = log.all
        XCTAssertEqual(declared.subtracting(read), [], "declared but never read")
        let undeclared = read.filter { name in
            !declared.contains(name) && !(name.hasSuffix("_FILE") && table.fileVariables.contains(String(name.dropLast(5))))
                && !name.hasPrefix(GatewaySettings.seed.info.familyPrefix!)
        }
        XCTAssertEqual(undeclared, [], "read but not in the settings table")
    }

    /// `--help` lists every variable, with its default.
    func testHelpListsEveryVariable() {
        let help = HelpText.gateway
        // Wrapped lines joined, so a default split over two lines is found.
        let flat = help.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        for row in GatewaySettings.table.all {
            XCTAssertTrue(help.contains("\n  " + row.name), "--help does not list \(row.name)")
            if !row.defaultText.isEmpty { XCTAssertTrue(flat.contains("(default: \(row.defaultText))"), row.name) }
        }
        XCTAssertTrue(flat.contains("(GATEWAY_TLS_CERT_FILE, GATEWAY_TLS_KEY_FILE, GATEWAY_TLS_CLIENT_CA_FILE, GATEWAY_SEEDS_FILE, GATEWAY_SEEDS_KEY_FILE, CREDENTIALS_DIRECTORY, GATEWAY_AUDIT_FILE, GATEWAY_AUDIT_KEY_FILE)"), help)
    }

    /// Shared kinds refuse with one message each, naming where the value came from.
    func testSharedKindsRefuseWithTheirMessages() {
        func problems(_ env: [String: String]) -> [String] {
            do {
                _ = try GatewayConfiguration.load(environment: Environment(env), listenOverride: nil)
                return []
            } catch { return error.problems.map(\.description) }
        }
        XCTAssertEqual(problems(["GATEWAY_INSECURE_NO_AUTH": "maybe"]), ["GATEWAY_INSECURE_NO_AUTH: must be 1 or 0 (true/false, yes/no, on/off)"])
        XCTAssertEqual(problems(["GATEWAY_DRAIN_SECONDS": "-1"]), ["GATEWAY_DRAIN_SECONDS: must be a number of seconds from 0 to 3600"])
        XCTAssertEqual(problems(["GATEWAY_WRITE_TIMEOUT_SECONDS": "0"]), ["GATEWAY_WRITE_TIMEOUT_SECONDS: must be more than 0 seconds"])
        XCTAssertEqual(problems(["GATEWAY_EVENT_LOOPS": "+3"]), ["GATEWAY_EVENT_LOOPS: must be a number from 1 to 256"])
        XCTAssertEqual(problems(["GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "-1"]),
            ["GATEWAY_MAX_CONNECTIONS_PER_CLIENT: must be a number from 0 (no limit) to 1000000"])
        XCTAssertEqual(problems(["GATEWAY_LISTEN": "localhost:8080"]),
            ["GATEWAY_LISTEN: 'localhost' is not an IPv4 or IPv6 address; use e.g. 127.0.0.1, 0.0.0.0 or [::]"])
        XCTAssertEqual(problems(["GATEWAY_LOG_LEVEL": "WARN"]), [])
    }

    /// One environment file may serve both programs: totp-bot's `GATEWAY_*_FILE` variables are
    /// not refused as unknown (the bot's tests hold this list to the bot's table).
    func testTheBotsFileVariablesAreLetThrough() throws {
        let env = Environment(["GATEWAY_URLS_FILE": "/run/secrets/urls", "GATEWAY_TOKEN_FILE": "/run/secrets/t", "GATEWAY_CA_FILE": "/etc/ca.pem",
                               "GATEWAY_CLIENT_CERT_FILE": "/etc/bot.pem", "GATEWAY_CLIENT_KEY_FILE": "/etc/bot.key"])
        XCTAssertEqual(GatewaySettings.table.unknownFileVariables(env, prefixes: ["GATEWAY_", "TOTP_"]), [])
    }
}
