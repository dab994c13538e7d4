#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import Shared
import Synchronization

/// The id of the last Zulip message the leader has handled, persisted atomically
/// (`FileIO.writeAtomically`: temp file, fsync, rename) in `BOT_STATE_DIR/watermark.json`, so
/// a new leader catches up exactly from there. Only ever moves forward.
///
/// ```swift
/// let store = WatermarkStore(directory: "/var/lib/totp-bot")
/// try store.advance(to: 1234)
/// store.current   // 1234
/// ```
final class WatermarkStore: Sendable {
    let path: String
    private let value = Mutex<Int?>(nil)

    /// The JSON stored in watermark.json.
    private struct Record: Codable {
        var last_message_id: Int
        var updated_at: Int64
    }

    static func path(in directory: String) -> String { directory + "/watermark.json" }

    init(directory: String) {
        path = Self.path(in: directory)
    }

    /// Reads the file; a missing file means "no watermark yet", an unreadable one is an error.
    func load() throws(ConfigProblem) -> Int? {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path, maxBytes: 4096) } catch {
            if error.errorNumber == ENOENT { return nil }
            throw ConfigProblem(source: "BOT_STATE_DIR", message: "\(error.description); check the directory's permissions")
        }
        guard let record = try? JSONDecoder().decode(Record.self, from: Data(bytes)) else {
            throw ConfigProblem(source: path, message: "is not a watermark record; delete it to start from the newest message")
        }
        value.withLock { $0 = max($0 ?? Int.min, record.last_message_id) }
        return record.last_message_id
    }

    var current: Int? { value.withLock { $0 } }

    /// Persists `id` if it is above the current watermark. Returns whether it moved.
    @discardableResult
    func advance(to id: Int) throws(FileIO.Failure) -> Bool {
        let moved = value.withLock { current -> Bool in
            if let current, current >= id { return false }
            current = id
            return true
        }
        guard moved else { return false }
        let text = "{\"last_message_id\":\(id),\"updated_at\":\(Logger.wallClock().seconds)}\n"
        try FileIO.writeAtomically(path, bytes: Array(text.utf8), mode: 0o600)
        return true
    }
}
