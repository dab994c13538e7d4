/// Where a policy announces every code handed out for its label: a stream topic, or a DM to
/// people and groups (one message to all of them). Written and read back in its policy form.
///
/// ```swift
/// try NotifyTarget(parsing: "stream:security/codes")        // .stream(name: "security", topic: "codes")
/// try NotifyTarget(parsing: "dm:@ops-leads,carol@example.com")
/// ```
enum NotifyTarget: Sendable, Hashable, Codable, CustomStringConvertible {
    case stream(name: String, topic: String)
    case direct([Principal])

    /// Zulip's limits (`max_stream_name_length`, `max_topic_length`).
    static let maxStreamName = 60
    static let maxTopic = 60

    /// Why a target was refused.
    struct Invalid: Error, Sendable, Equatable {
        let message: String
    }

    init(parsing raw: String) throws(Invalid) {
        let text = raw.trimmingCharacters(in: " \t")
        if text.hasPrefix("stream:") {
            let rest = text.dropFirst("stream:".count)
            // The stream name ends at the first '/': Zulip allows '/' in topics, rarely in names.
            guard let slash = rest.firstIndex(of: "/") else {
                throw Invalid(message: "notify=stream: needs a topic: stream:NAME/TOPIC, e.g. stream:security/codes")
            }
            let name = rest[..<slash].trimmingCharacters(in: " \t")
            let topic = rest[rest.index(after: slash)...].trimmingCharacters(in: " \t")
            guard !name.isEmpty, !topic.isEmpty else {
                throw Invalid(message: "notify=stream: needs a stream name and a topic: stream:NAME/TOPIC")
            }
            guard name.count <= Self.maxStreamName, topic.count <= Self.maxTopic else {
                throw Invalid(message: "notify=stream: stream names and topics have at most \(Self.maxTopic) characters")
            }
            guard !name.contains(where: \.isNewline), !topic.contains(where: \.isNewline) else {
                throw Invalid(message: "notify=stream: no line breaks in the stream name or topic")
            }
            self = .stream(name: name, topic: topic)
        } else if text.hasPrefix("dm:") {
            var who: [Principal] = []
            for piece in text.dropFirst("dm:".count).split(separator: ",") {
                let entry = piece.trimmingCharacters(in: " \t")
                if entry.isEmpty { continue }
                do { who.append(try Principal(parsing: entry)) } catch { throw Invalid(message: "notify=dm: \(error.message)") }
            }
            guard !who.isEmpty else { throw Invalid(message: "notify=dm: names nobody; list emails, user ids or @groups") }
            self = .direct(who)
        } else {
            throw Invalid(message: "notify must be stream:NAME/TOPIC or dm:@group,email,...")
        }
    }

    var description: String {
        switch self {
        case .stream(let name, let topic): "stream:\(name)/\(topic)"
        case .direct(let who): "dm:" + who.map(\.description).joined(separator: ",")
        }
    }

    var principals: [Principal] {
        if case .direct(let who) = self { return who }
        return []
    }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try NotifyTarget(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
