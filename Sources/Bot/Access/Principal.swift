import TextSupport

/// Someone a policy names: a Zulip user by numeric id, a user by email (folded in ASCII, as
/// the ACL does), or a Zulip user group by name (`@name`, folded in ASCII). Written and read
/// back in that text form (policy lines, the state file).
///
/// ```swift
/// try Principal(parsing: "@ops-leads")         // .group("ops-leads")
/// try Principal(parsing: "carol@example.com")  // .email("carol@example.com")
/// try Principal(parsing: "42")                 // .user(42)
/// ```
enum Principal: Sendable, Hashable, Codable, CustomStringConvertible {
    case user(Int)
    case email(String)
    case group(String)

    /// Why a principal was refused.
    struct Invalid: Error, Sendable, Equatable {
        let message: String
    }

    init(parsing raw: String) throws(Invalid) {
        let text = raw.trimmingCharacters(in: " \t")
        if text.hasPrefix("@") {
            let name = String(text.dropFirst()).trimmingCharacters(in: " \t")
            guard !name.isEmpty else { throw Invalid(message: "'@' must be followed by a Zulip user group's name, e.g. @ops-leads") }
            guard !name.contains(where: { $0 == "," || $0 == ";" || $0 == "\n" || $0 == "\"" }) else {
                throw Invalid(message: "group name '\(AccessList.printable(name))' contains one of , ; \" or a line break")
            }
            self = .group(name.asciiLowercased)
        } else if !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let id = Int(text) {
            self = .user(id)
        } else if text.contains("@"), !text.contains(where: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\"" }) {
            self = .email(text.asciiLowercased)
        } else {
            throw Invalid(message: "'\(AccessList.printable(text))' is neither an email address, a numeric Zulip user id nor @group")
        }
    }

    var description: String {
        switch self {
        case .user(let id): String(id)
        case .email(let email): email
        case .group(let name): "@" + name
        }
    }

    var isGroup: Bool {
        if case .group = self { return true }
        return false
    }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Principal(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
