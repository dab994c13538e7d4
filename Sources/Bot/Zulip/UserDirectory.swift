import Synchronization
import Platform

/// The realm's users as the leader's event queue knows them: loaded from register's user lists
/// and kept current by the queue's `realm_user` events (in the same stream as the DMs, so a
/// change is known before any message sent after it). It answers two questions: is a sender a
/// bot (their messages are never answered, so two bots cannot talk each other into a loop), and
/// which email addresses are a user's own, so that an ACL entry naming an email grants exactly
/// the account that holds the address now. Emails are compared case-insensitively in ASCII only
/// (`asciiLowercased`). An address two active accounts claim (one's API email, the other's
/// delivery email) is nobody's: ambiguity grants nothing.
///
/// ```swift
/// let directory = UserDirectory()
/// directory.load(queue)                       // after POST /register
/// directory.apply(event)                      // each realm_user event
/// directory.isBot(42)                         // false
/// directory.emails(of: 42)                    // ["alice@example.com"]
/// ```
final class UserDirectory: Sendable {
    /// What the bot knows of one user.
    struct Entry: Sendable, Equatable {
        /// The Zulip API email and, when the bot may see it, the delivery email.
        var email: String
        var deliveryEmail: String?
        var isBot: Bool
        var isActive: Bool
        /// The name Zulip shows (for the bot's messages about this user).
        var fullName: String? = nil

        /// Both addresses, folded, without repeats.
        var foldedEmails: [String] {
            var out = [email.asciiLowercased]
            if let d = deliveryEmail?.asciiLowercased, d != out[0] { out.append(d) }
            return out.filter { !$0.isEmpty }
        }
    }

    /// The users by id, and the active ones by folded email (kept in step).
    private struct Table {
        var entries: [Int: Entry] = [:]
        var byEmail: [String: Set<Int>] = [:]

        mutating func set(_ id: Int, _ entry: Entry?) {
            if let old = entries[id], old.isActive {
                for e in old.foldedEmails {
                    byEmail[e]?.remove(id)
                    if byEmail[e]?.isEmpty == true { byEmail[e] = nil }
                }
            }
            entries[id] = entry
            if let entry, entry.isActive {
                for e in entry.foldedEmails { byEmail[e, default: []].insert(id) }
            }
        }
    }

    private let table = Mutex<Table?>(nil)

    init() {}

    /// Whether a register answer with user lists has been seen.
    var isLoaded: Bool { table.withLock { $0 != nil } }

    /// Replaces everything with register's lists. Returns false (and keeps nothing) when the
    /// answer carried none: the server ignored `realm_user`.
    @discardableResult
    func load(_ queue: ZulipQueue) -> Bool {
        guard let active = queue.realm_users else {
            table.withLock { $0 = nil }
            return false
        }
        var t = Table()
        for u in active {
            t.set(u.user_id, Entry(email: u.email, deliveryEmail: u.delivery_email, isBot: u.is_bot, isActive: true, fullName: u.full_name))
        }
        for u in queue.realm_non_active_users ?? [] {
            t.set(u.user_id, Entry(email: u.email, deliveryEmail: u.delivery_email, isBot: u.is_bot, isActive: false, fullName: u.full_name))
        }
        // System bots (Notification Bot, Welcome Bot...) of the server, not of the realm.
        for u in queue.cross_realm_bots ?? [] {
            t.set(u.user_id, Entry(email: u.email, deliveryEmail: u.delivery_email, isBot: true, isActive: true))
        }
        table.withLock { $0 = t }
        return true
    }

    /// Applies one `realm_user` event; returns whether anything changed. An `update` of a user
    /// never seen is ignored (the next register brings them in full).
    @discardableResult
    func apply(_ event: ZulipEvent) -> Bool {
        guard event.type == "realm_user", let person = event.person, let op = event.op else { return false }
        return table.withLock { t -> Bool in
            guard t != nil else { return false }
            let old = t!.entries[person.user_id]
            var entry: Entry
            switch op {
            case "add":
                entry = Entry(email: person.email ?? old?.email ?? "", deliveryEmail: person.delivery_email ?? old?.deliveryEmail,
                              isBot: person.is_bot ?? old?.isBot ?? false, isActive: person.is_active ?? true,
                              fullName: person.full_name ?? old?.fullName)
            case "remove":
                guard let old else { return false }
                entry = old
                entry.isActive = false
            case "update":
                guard let old else { return false }
                entry = old
                if let e = person.new_email { entry.email = e }
                if let d = person.delivery_email { entry.deliveryEmail = d }
                if let a = person.is_active { entry.isActive = a }
                if let n = person.full_name { entry.fullName = n }
            default:
                return false
            }
            guard entry != old else { return false }
            t!.set(person.user_id, entry)
            return true
        }
    }

    func entry(_ id: Int) -> Entry? { table.withLock { $0?.entries[id] } }

    /// Whether `id` is a bot account (nil: not known).
    func isBot(_ id: Int) -> Bool? { entry(id)?.isBot }

    /// Whether `id` is a known, active, human account: the only kind that gets codes, approves
    /// or is told anything. Unknown users (no register lists) count as active humans, as the
    /// ACL's numeric entries do.
    func isActiveHuman(_ id: Int) -> Bool {
        guard let entry = entry(id) else { return !isLoaded }
        return entry.isActive && !entry.isBot
    }

    /// The folded addresses that are `id`'s own: the user is active and no other active
    /// account claims the address. Empty for an unknown user.
    func emails(of id: Int) -> [String] {
        table.withLock { t in
            guard let t, let entry = t.entries[id], entry.isActive else { return [] }
            return entry.foldedEmails.filter { t.byEmail[$0] == [id] }
        }
    }

    /// The active accounts holding `email` (folded by the caller), sorted.
    func holders(of email: String) -> [Int] {
        table.withLock { $0?.byEmail[email].map { $0.sorted() } ?? [] }
    }
}
