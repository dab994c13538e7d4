import Synchronization

/// The realm's user groups as the leader's event queue knows them: loaded from register's
/// `realm_user_groups` and kept current by the queue's `user_group` events (in the same stream
/// as the DMs, so a member removed from a group is out before any later message is judged). A
/// group's members are its direct members and, transitively, its subgroups' members; a
/// deactivated group has none. Names are compared folded in ASCII; a name two groups share is
/// nobody's (ambiguity grants nothing). Whether a member is an active user is the caller's to
/// check (`UserDirectory`): the server keeps deactivated users in their groups.
///
/// A bot may not call `GET /user_groups` (the server refuses bot requests), so register is
/// the only source: when it brings no groups (`isLoaded` false) no group has members.
///
/// ```swift
/// let groups = UserGroupDirectory()
/// groups.load(queue)                    // after POST /register
/// groups.apply(event)                   // each user_group event
/// groups.members(of: "ops-leads")       // [31, 34]
/// groups.names(containing: 31)          // ["ops-leads", "role:members"]
/// ```
final class UserGroupDirectory: Sendable {
    /// One group as far as the bot cares.
    struct Group: Sendable, Equatable {
        var name: String
        var members: Set<Int>
        var subgroups: Set<Int>
        var deactivated: Bool
    }

    private let table = Mutex<[Int: Group]?>(nil)

    init() {}

    /// Whether the last register answer carried groups.
    var isLoaded: Bool { table.withLock { $0 != nil } }

    /// Replaces everything with register's groups. Returns false (and keeps nothing) when the
    /// answer carried none.
    @discardableResult
    func load(_ queue: ZulipQueue) -> Bool {
        guard let groups = queue.realm_user_groups else {
            table.withLock { $0 = nil }
            return false
        }
        var t: [Int: Group] = [:]
        for g in groups {
            t[g.id] = Group(name: g.name, members: Set(g.members), subgroups: Set(g.direct_subgroup_ids), deactivated: g.deactivated)
        }
        table.withLock { $0 = t }
        return true
    }

    /// Applies one `user_group` event; returns whether membership or names changed.
    @discardableResult
    func apply(_ event: ZulipEvent) -> Bool {
        guard event.type == "user_group", let op = event.op else { return false }
        return table.withLock { t -> Bool in
            guard t != nil else { return false }
            if op == "add", let g = event.group {
                let group = Group(name: g.name, members: Set(g.members), subgroups: Set(g.direct_subgroup_ids), deactivated: g.deactivated)
                guard t![g.id] != group else { return false }
                t![g.id] = group
                return true
            }
            guard let id = event.group_id, var group = t![id] else { return false }
            let before = group
            switch op {
            case "add_members": group.members.formUnion(event.user_ids ?? [])
            case "remove_members": group.members.subtract(event.user_ids ?? [])
            case "add_subgroups": group.subgroups.formUnion(event.direct_subgroup_ids ?? [])
            case "remove_subgroups": group.subgroups.subtract(event.direct_subgroup_ids ?? [])
            case "update":
                if let name = event.data?.name { group.name = name }
                if let deactivated = event.data?.deactivated { group.deactivated = deactivated }
            case "remove":
                t![id] = nil
                return true
            default:
                return false
            }
            guard group != before else { return false }
            t![id] = group
            return true
        }
    }

    /// Every member of the group named `name` (folded in ASCII), subgroups included; nil when
    /// no group (or more than one) has that name, or none is known.
    func members(of name: String) -> Set<Int>? {
        let folded = name.asciiLowercased
        return table.withLock { t -> Set<Int>? in
            guard let t else { return nil }
            let ids = t.filter { $0.value.name.asciiLowercased == folded }.map(\.key)
            guard ids.count == 1 else { return nil }
            return Self.members(ids[0], in: t)
        }
    }

    /// The folded names of every group `user` belongs to, directly or through subgroups.
    func names(containing user: Int) -> Set<String> {
        table.withLock { t -> Set<String> in
            guard let t else { return [] }
            var out = Set<String>()
            for (id, group) in t where Self.members(id, in: t).contains(user) { out.insert(group.name.asciiLowercased) }
            // A name two groups share is nobody's.
            let shared = Set(Dictionary(grouping: t.values, by: { $0.name.asciiLowercased }).filter { $0.value.count > 1 }.keys)
            return out.subtracting(shared)
        }
    }

    /// Members of group `id` and its subgroups (each group visited once: no loop can hang it).
    private static func members(_ id: Int, in t: [Int: Group]) -> Set<Int> {
        var out = Set<Int>()
        var seen = Set<Int>()
        var todo = [id]
        while let next = todo.popLast() {
            guard seen.insert(next).inserted, let group = t[next], !group.deactivated else { continue }
            out.formUnion(group.members)
            todo.append(contentsOf: group.subgroups)
        }
        return out
    }
}
