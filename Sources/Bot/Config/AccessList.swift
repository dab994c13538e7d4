import Platform
import TOTP
import TextSupport

/// Who may request which label. Entries are `who:labels`, `who` being an email address
/// (compared case-insensitively in ASCII only: U+212A KELVIN SIGN is not `k`), a numeric Zulip
/// user id or a Zulip user group (`@name`, folded likewise; a name with a colon, such as
/// `@role:members`, needs the `who = labels` form), `labels` being `*` or a comma list. An empty
/// list grants nothing. Senders are judged by user id: an email entry counts for a sender only
/// when the caller vouches that the address is that sender's own (`UserDirectory.emails(of:)`),
/// a group entry only for the groups the caller says the sender is in now
/// (`UserGroupDirectory.names(containing:)`), never by what a message carries.
///
/// ```swift
/// let acl = try AccessList.parse("alice@example.com:*;42:certus,github", source: "BOT_ACL")
/// acl.allows(userID: 42, emails: [], label: "certus")                       // true
/// acl.allows(userID: 31, emails: ["alice@example.com"], label: "certus")    // true
/// ```
struct AccessList: Sendable, Equatable {
    /// What one sender may read.
    enum Grant: Sendable, Equatable {
        case all
        case labels(Set<String>)
    }

    private(set) var byEmail: [String: Grant] = [:]
    private(set) var byID: [Int: Grant] = [:]
    private(set) var byGroup: [String: Grant] = [:]

    init() {}

    var isEmpty: Bool { byEmail.isEmpty && byID.isEmpty && byGroup.isEmpty }
    var count: Int { byEmail.count + byID.count + byGroup.count }

    /// The email entries, folded, sorted.
    var emails: [String] { byEmail.keys.sorted() }

    /// The group entries' names, folded, sorted.
    var groups: [String] { byGroup.keys.sorted() }

    /// Parses entries separated by `;` or newlines. `#` starts a comment line. Besides
    /// `who:labels`, `who = labels` is accepted (the form of the compose secret example).
    static func parse(_ text: String, source: String) throws(ConfigError) -> AccessList {
        var acl = AccessList()
        var problems: [ConfigProblem] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmedLine = line.trimmingCharacters(in: " \t\r")
            if trimmedLine.isEmpty || trimmedLine.hasPrefix("#") { continue }
            for rawEntry in trimmedLine.split(separator: ";") {
                let entry = rawEntry.trimmingCharacters(in: " \t\r")
                if entry.isEmpty { continue }
                let where_ = text.contains("\n") ? "\(source):\(lineNumber)" : source
                do { try acl.add(entry: entry) } catch { problems.append(ConfigProblem(source: where_, message: error.message)) }
            }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
        return acl
    }

    /// The original project's `ALLOWED_SENDERS`: comma-separated senders, each granted `*`.
    mutating func addAllowedSenders(_ text: String, source: String) throws(ConfigError) {
        var problems: [ConfigProblem] = []
        for raw in text.split(whereSeparator: { $0 == "," || $0 == ";" || $0 == "\n" }) {
            let who = raw.trimmingCharacters(in: " \t\r")
            if who.isEmpty { continue }
            do { try add(who: who, grant: .all) } catch { problems.append(ConfigProblem(source: source, message: error.message)) }
        }
        if !problems.isEmpty { throw ConfigError(problems) }
    }

    /// A malformed ACL entry, reported with its source.
    private struct EntryError: Error { let message: String }

    private mutating func add(entry: String) throws(EntryError) {
        // `=` first: an email or a group name never contains one, while `:` separates in the
        // main form.
        let separator: Character = entry.contains("=") ? "=" : ":"
        guard let index = entry.firstIndex(of: separator) else {
            throw EntryError(message: "entry '\(Self.printable(entry))' has no ':'; write who:labels, e.g. alice@example.com:certus,github or 42:*")
        }
        let who = entry[..<index].trimmingCharacters(in: " \t")
        let list = entry[entry.index(after: index)...].trimmingCharacters(in: " \t")
        let grant: Grant
        if list == "*" {
            grant = .all
        } else {
            var labels = Set<String>()
            for piece in list.split(separator: ",") {
                let name = piece.trimmingCharacters(in: " \t")
                if name.isEmpty { continue }
                if name == "*" { throw EntryError(message: "entry for '\(Self.printable(who))': '*' must stand alone") }
                do { labels.insert(try SeedLabel(name).value) } catch {
                    throw EntryError(message: "entry for '\(Self.printable(who))': \(error.description)")
                }
            }
            if labels.isEmpty {
                throw EntryError(message: "entry for '\(Self.printable(who))' lists no labels; use * or a comma list")
            }
            grant = .labels(labels)
        }
        try add(who: who, grant: grant)
    }

    private mutating func add(who: String, grant: Grant) throws(EntryError) {
        if who.hasPrefix("@") {
            let name = String(who.dropFirst()).trimmingCharacters(in: " \t")
            guard !name.isEmpty else { throw EntryError(message: "'@' must be followed by a Zulip user group's name, e.g. @ops-leads:certus") }
            byGroup[name.asciiLowercased] = Self.merge(byGroup[name.asciiLowercased], grant)
        } else if !who.isEmpty, who.allSatisfy(\.isNumber), let id = Int(who) {
            byID[id] = Self.merge(byID[id], grant)
        } else if who.contains("@"), !who.contains(where: { $0 == " " || $0 == "\t" }) {
            let key = who.asciiLowercased
            byEmail[key] = Self.merge(byEmail[key], grant)
        } else {
            throw EntryError(message: "sender '\(Self.printable(who))' is neither an email address, a numeric Zulip user id nor @group")
        }
    }

    private static func merge(_ old: Grant?, _ new: Grant) -> Grant {
        switch (old, new) {
        case (nil, _): new
        case (.all?, _), (_, .all): .all
        case (.labels(let a)?, .labels(let b)): .labels(a.union(b))
        }
    }

    /// What this sender may read: the union of the id entry, the entries of `emails`, the
    /// addresses known to be the sender's own, and of `groups`, the groups the sender is in now
    /// (ASCII-folded or not: folded here).
    func grant(userID: Int, emails: [String], groups: Set<String> = []) -> Grant? {
        var result = byID[userID]
        for email in emails {
            if let g = byEmail[email.asciiLowercased] { result = Self.merge(result, g) }
        }
        for group in groups {
            if let g = byGroup[group.asciiLowercased] { result = Self.merge(result, g) }
        }
        return result
    }

    /// Whether the sender may read `label` (already lower-cased by `SeedLabel`).
    func allows(userID: Int, emails: [String], groups: Set<String> = [], label: String) -> Bool {
        switch grant(userID: userID, emails: emails, groups: groups) {
        case nil: false
        case .all?: true
        case .labels(let set)?: set.contains(label)
        }
    }

    static func printable(_ s: String) -> String {
        String(s.unicodeScalars.prefix(80).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }
}
