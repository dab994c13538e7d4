import Foundation
import Platform
import XCTest
@testable import Bot

/// `BOT_POLICY` lines: what each key means, and that every mistake names its line.
final class AccessPolicyTests: XCTestCase {
    func testTheIssuesExampleLineParses() throws {
        let policies = try AccessPolicies.parse(
            "prod-aws: approvers=@ops-leads,carol@example.com approvals=2 reason=required grant=30m timeout=10m notify=stream:security/codes",
            source: "BOT_POLICY")
        let p = try XCTUnwrap(policies.policy(for: "prod-aws"))
        XCTAssertEqual(p.approvers, [.group("ops-leads"), .email("carol@example.com")])
        XCTAssertEqual(p.approvals, 2)
        XCTAssertTrue(p.reasonRequired)
        XCTAssertEqual(p.grantSeconds, 1800)
        XCTAssertEqual(p.timeoutSeconds, 600)
        XCTAssertEqual(p.notify, .stream(name: "security", topic: "codes"))
        XCTAssertTrue(p.needsApproval)
        XCTAssertTrue(policies.namesGroups)
        XCTAssertNil(policies.policy(for: "certus"), "a label without a policy is handed out as before")
        XCTAssertEqual(p.summary, "approvers=@ops-leads,carol@example.com approvals=2 reason=required grant=30m timeout=10m notify=stream:security/codes")
    }

    func testDefaultsTheStarLineQuotesAndExemptions() throws {
        let text = """
            # approvals for production, a reason for everything else
            prod: approvers=42,@Ops
            *: reason=required notify="dm:@Security Team,7"
            certus:
            """
        let policies = try AccessPolicies.parse(text, source: "BOT_POLICY_FILE (/etc/totp-bot/policy)")
        let prod = try XCTUnwrap(policies.policy(for: "prod"))
        XCTAssertEqual(prod.approvers, [.user(42), .group("ops")], "group names fold in ASCII")
        XCTAssertEqual(prod.approvals, 1)
        XCTAssertFalse(prod.reasonRequired)
        XCTAssertEqual(prod.grantSeconds, 0, "by default one approval covers one code")
        XCTAssertEqual(prod.timeoutSeconds, 600)
        XCTAssertNil(prod.notify)
        let other = try XCTUnwrap(policies.policy(for: "github"))
        XCTAssertFalse(other.needsApproval)
        XCTAssertTrue(other.reasonRequired)
        XCTAssertEqual(other.notify, .direct([.group("security team"), .user(7)]))
        XCTAssertEqual(policies.policy(for: "certus"), AccessPolicy(), "an empty line exempts a label from *")
        XCTAssertEqual(policies.count, 3)
        XCTAssertEqual(policies.principals, [.user(42), .group("ops"), .group("security team"), .user(7)])
        // One line may hold several entries separated by ;.
        let inline = try AccessPolicies.parse("a: approvers=1; b: approvers=2 grant=90s", source: "BOT_POLICY")
        XCTAssertEqual(inline.policy(for: "b")?.grantSeconds, 90)
        XCTAssertEqual(AccessPolicies.duration("2h"), 7200)
        XCTAssertEqual(AccessPolicies.duration("1d"), 86400)
        XCTAssertNil(AccessPolicies.duration("10"))
        XCTAssertNil(AccessPolicies.duration("-1m"))
        XCTAssertNil(AccessPolicies.duration("1.5h"))
    }

    /// Every malformed line is reported, each with its line number, all in one run.
    func testErrorsNameTheLine() {
        let text = """
            prod: approvers=@ops approvals=2
            bad label!: approvers=1
            x: approvers=1 approvals=3
            y: grant=30m
            z: approvers=carol@example.com timeout=5s
            w: notify=stream:nowhere
            v: reason=sometimes
            u: colour=blue
            t approvers=1
            prod: approvers=2
            s: approvers=1 approvers=2
            r: approvers="@unterminated
            q: grant=8d approvers=1
            p: approvers=carol
            """
        do {
            _ = try AccessPolicies.parse(text, source: "policy.txt")
            XCTFail("accepted")
        } catch {
            let lines = error.problems.map(\.description)
            XCTAssertEqual(error.problems.map(\.source), (2...14).map { "policy.txt:\($0)" }, lines.joined(separator: "\n"))
            XCTAssertTrue(lines[0].contains("invalid character"), lines[0])
            XCTAssertTrue(lines[1].contains("approvals=3 but only 1 approver"), lines[1])
            XCTAssertTrue(lines[2].contains("grant= needs approvers="), lines[2])
            XCTAssertTrue(lines[3].contains("timeout must be"), lines[3])
            XCTAssertTrue(lines[4].contains("needs a topic"), lines[4])
            XCTAssertTrue(lines[5].contains("required or optional"), lines[5])
            XCTAssertTrue(lines[6].contains("unknown key 'colour'"), lines[6])
            XCTAssertTrue(lines[7].contains("has no ':'"), lines[7])
            XCTAssertTrue(lines[8].contains("a second policy for 'prod' (the first is at policy.txt:1)"), lines[8])
            XCTAssertTrue(lines[9].contains("approvers= is given twice"), lines[9])
            XCTAssertTrue(lines[10].contains("not closed"), lines[10])
            XCTAssertTrue(lines[11].contains("up to 7d"), lines[11])
            XCTAssertTrue(lines[12].contains("neither an email"), lines[12])
        }
        // A one-line variable with several entries names the entry.
        XCTAssertThrowsError(try AccessPolicies.parse("a: approvers=1; b: approvals=x", source: "BOT_POLICY")) { error in
            XCTAssertEqual((error as? ConfigError)?.problems.map(\.source), ["BOT_POLICY entry 2"])
        }
    }

    /// The configuration reads BOT_POLICY or BOT_POLICY_FILE; their mistakes are configuration
    /// problems like any other (so --check-config reports them and the bot refuses to start).
    func testConfigurationReadsThePolicyVariableOrFile() throws {
        let base = ["ZULIP_SITE": "https://chat.example.com", "ZULIP_EMAIL": "bot@example.com", "ZULIP_API_KEY": "k",
                    "GATEWAY_URLS": "http://127.0.0.1:1", "GATEWAY_TOKEN": "t", "BOT_ACL": "1:*"]
        var env = base
        env["BOT_POLICY"] = "prod: approvers=2"
        XCTAssertEqual(try BotConfiguration.load(environment: Environment(env), zuliprcPath: nil).policies.policy(for: "prod")?.approvers, [.user(2)])
        XCTAssertTrue(try BotConfiguration.load(environment: Environment(base), zuliprcPath: nil).policies.isEmpty)

        let file = NSTemporaryDirectory() + "policy-\(UUID().uuidString.prefix(8))"
        try "prod: approvers=2\nbad: approvals=2\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        env = base
        env["BOT_POLICY_FILE"] = file
        XCTAssertThrowsError(try BotConfiguration.load(environment: Environment(env), zuliprcPath: nil)) { error in
            XCTAssertEqual((error as? ConfigError)?.problems.map(\.source), ["BOT_POLICY_FILE (\(file)):2"])
        }
    }

    func testPoliciesSurviveTheStateFilesJSON() throws {
        let p = AccessPolicy(approvers: [.group("ops leads"), .email("c@x.org"), .user(5)], approvals: 2, reasonRequired: true,
                             grantSeconds: 60, timeoutSeconds: 120, notify: .direct([.group("sec"), .user(9)]))
        let data = try JSONEncoder().encode(p)
        XCTAssertEqual(try JSONDecoder().decode(AccessPolicy.self, from: data), p)
        let s = AccessPolicy(notify: .stream(name: "security", topic: "codes/prod"))
        XCTAssertEqual(try JSONDecoder().decode(AccessPolicy.self, from: JSONEncoder().encode(s)), s)
    }
}

/// Groups from register and user_group events, and the ACL's group entries.
final class UserGroupTests: XCTestCase {
    private func event(_ json: String) throws -> ZulipEvent { try JSONDecoder().decode(ZulipEvent.self, from: Data(json.utf8)) }

    func testGroupsFollowUserGroupEventsThroughSubgroups() throws {
        let groups = UserGroupDirectory()
        XCTAssertFalse(groups.load(ZulipQueue(queue_id: "q", last_event_id: -1)), "no realm_user_groups: nothing to go by")
        XCTAssertNil(groups.members(of: "ops"))
        var queue = ZulipQueue(queue_id: "q", last_event_id: -1)
        queue.realm_user_groups = try JSONDecoder().decode([ZulipUserGroup].self, from: Data("""
            [{"id":1,"name":"Ops","members":[31],"direct_subgroup_ids":[2],"description":"","is_system_group":false},
             {"id":2,"name":"ops-leads","members":[33],"direct_subgroup_ids":[],"deactivated":false,"can_manage_group":{"direct_members":[],"direct_subgroups":[]}},
             {"id":3,"name":"old","members":[35],"deactivated":true},
             {"id":4,"name":"twin","members":[36]},{"id":5,"name":"TWIN","members":[37]}]
            """.utf8))
        XCTAssertTrue(groups.load(queue))
        XCTAssertEqual(groups.members(of: "ops"), [31, 33], "subgroups' members belong too, names fold")
        XCTAssertEqual(groups.members(of: "old"), [], "a deactivated group has no members")
        XCTAssertNil(groups.members(of: "twin"), "a name two groups share is nobody's")
        XCTAssertNil(groups.members(of: "nosuch"))
        XCTAssertEqual(groups.names(containing: 33), ["ops", "ops-leads"])
        XCTAssertEqual(groups.names(containing: 36), [])

        XCTAssertTrue(groups.apply(try event(#"{"id":1,"type":"user_group","op":"add_members","group_id":2,"user_ids":[34]}"#)))
        XCTAssertEqual(groups.members(of: "ops-leads"), [33, 34])
        XCTAssertTrue(groups.apply(try event(#"{"id":2,"type":"user_group","op":"remove_members","group_id":2,"user_ids":[33]}"#)))
        XCTAssertEqual(groups.members(of: "ops"), [31, 34])
        XCTAssertFalse(groups.apply(try event(#"{"id":3,"type":"user_group","op":"remove_members","group_id":2,"user_ids":[33]}"#)))
        XCTAssertTrue(groups.apply(try event(#"{"id":4,"type":"user_group","op":"remove_subgroups","group_id":1,"direct_subgroup_ids":[2]}"#)))
        XCTAssertEqual(groups.members(of: "ops"), [31])
        XCTAssertTrue(groups.apply(try event(#"{"id":5,"type":"user_group","op":"add","group":{"id":6,"name":"sec","members":[38],"direct_subgroup_ids":[],"description":"","is_system_group":false}}"#)))
        XCTAssertEqual(groups.members(of: "sec"), [38])
        XCTAssertTrue(groups.apply(try event(#"{"id":6,"type":"user_group","op":"update","group_id":6,"data":{"name":"security"}}"#)))
        XCTAssertNil(groups.members(of: "sec"))
        XCTAssertEqual(groups.members(of: "security"), [38])
        XCTAssertTrue(groups.apply(try event(#"{"id":7,"type":"user_group","op":"update","group_id":6,"data":{"deactivated":true}}"#)))
        XCTAssertEqual(groups.members(of: "security"), [])
        XCTAssertTrue(groups.apply(try event(#"{"id":8,"type":"user_group","op":"remove","group_id":6}"#)))
        XCTAssertNil(groups.members(of: "security"))
        XCTAssertFalse(groups.apply(try event(#"{"id":9,"type":"user_group","op":"add_members","group_id":99,"user_ids":[1]}"#)))
        // A loop of subgroups does not hang.
        XCTAssertTrue(groups.apply(try event(#"{"id":10,"type":"user_group","op":"add_subgroups","group_id":2,"direct_subgroup_ids":[1]}"#)))
        XCTAssertTrue(groups.apply(try event(#"{"id":11,"type":"user_group","op":"add_subgroups","group_id":1,"direct_subgroup_ids":[2]}"#)))
        XCTAssertEqual(groups.members(of: "ops"), [31, 34])
    }

    func testACLGroupEntriesGrantTheGroupsMembers() throws {
        let acl = try AccessList.parse("@Ops:prod,certus; @role:members = github; 42:*", source: "BOT_ACL")
        XCTAssertEqual(acl.groups, ["ops", "role:members"])
        XCTAssertTrue(acl.allows(userID: 1, emails: [], groups: ["ops"], label: "prod"))
        XCTAssertTrue(acl.allows(userID: 1, emails: [], groups: ["OPS", "role:members"], label: "github"))
        XCTAssertFalse(acl.allows(userID: 1, emails: [], groups: ["ops"], label: "github"))
        XCTAssertFalse(acl.allows(userID: 1, emails: [], groups: [], label: "prod"), "out of the group, no access")
        XCTAssertThrowsError(try AccessList.parse("@:prod", source: "BOT_ACL"))
    }

    func testReactionAndGroupEventsDecodeLeniently() throws {
        let r = try event(#"{"id":3,"type":"reaction","op":"add","user_id":33,"user":{"user_id":33,"email":"c@x","full_name":"C"},"message_id":3050,"emoji_name":"+1","emoji_code":"1f44d","reaction_type":"unicode_emoji"}"#)
        XCTAssertEqual(r.message_id, 3050)
        XCTAssertEqual(r.user_id, 33)
        XCTAssertEqual(r.emoji_code, "1f44d")
        let odd = try event(#"{"id":4,"type":"user_group","op":"update","group_id":"x","data":{"can_manage_group":{"direct_members":[1]}}}"#)
        XCTAssertNil(odd.group_id)
        XCTAssertEqual(odd.data, ZulipUserGroupChange())
    }
}
