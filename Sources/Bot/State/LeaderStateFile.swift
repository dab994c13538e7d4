#if canImport(Glibc)
import Glibc
#endif
import Platform

/// The leader's state as `BOT_STATE_DIR/watermark.json` (the lock files' storage): written
/// atomically (temp file, fsync, rename, directory fsync); a write is refused when the file
/// holds a newer epoch than the writer's, since another bot has taken over then.
///
/// ```swift
/// let file = LeaderStateFile(directory: "/var/lib/totp-bot")
/// file.location      // "/var/lib/totp-bot/watermark.json"
/// ```
struct LeaderStateFile: LeaderStateStorage {
    let path: String

    init(directory: String) {
        path = LeaderStateStore.path(in: directory)
    }

    var location: String { path }
    var isRemote: Bool { false }

    /// The epoch in the file, nil without a readable one.
    var storedEpoch: Int? {
        guard let bytes = try? FileIO.read(path, maxBytes: 1 << 20) else { return nil }
        return LeaderState.decode(bytes)?.epoch
    }

    func read() throws(ConfigProblem) -> [UInt8]? {
        do { return try FileIO.read(path, maxBytes: 1 << 20) } catch {
            if error.errorNumber == ENOENT { return nil }
            throw ConfigProblem(source: "BOT_STATE_DIR", message: "\(error.description); check the directory's permissions")
        }
    }

    func write(_ bytes: [UInt8], epoch: Int?, watermark: Int?) -> LeaderStateStore.WriteFailure? {
        if let mine = epoch, let theirs = storedEpoch, theirs > mine {
            return .init(kind: .superseded, description:
                "\(path) was written by the leader of epoch \(theirs), newer than this one's (\(mine)): another bot leads now")
        }
        do throws(FileIO.Failure) { try FileIO.writeAtomically(path, bytes: bytes, mode: 0o600) } catch {
            return .init(kind: .io, description: error.description)
        }
        return nil
    }
}
