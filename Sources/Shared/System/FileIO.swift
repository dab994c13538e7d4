#if canImport(Glibc)
import Glibc
#endif

/// Whole-file reads and atomic writes with errors that name the path and the reason.
///
/// ```swift
/// let bytes = try FileIO.read("/run/secrets/seeds")
/// try FileIO.writeAtomically("/var/lib/bot/state", bytes: Array("42".utf8), mode: 0o600)
/// ```
public enum FileIO {
    /// Why a file could not be read or written.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public let path: String
        public let reason: String
        /// The errno of the failed call, or 0 when the file was read but refused (a directory,
        /// too large, not UTF-8).
        public var code: Int32 = 0
        public var description: String { "\(path): \(reason)" }

        /// Only this means "absent": an optional file that exists but cannot be read is an error.
        public var isNotFound: Bool { code == ENOENT }
    }

    /// True for `/abs`, `./rel` and `../rel`: the paths that are safe to print even when a variable
    /// meant to hold a path might hold a secret instead.
    public static func looksLikePath(_ text: String) -> Bool {
        text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("../")
    }

    /// Reads a regular file of at most `maxBytes` (secrets and configs are small; a huge file is a mistake).
    public static func read(_ path: String, maxBytes: Int = 4 << 20) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            throw Failure(path: path, reason: Self.reason(err, verb: "cannot open"), code: err)
        }
        defer { Syscall.close(fd) }
        var st = stat()
        if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            throw Failure(path: path, reason: "is a directory, expected a file")
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let err = errno
                if err == EINTR { continue }
                throw Failure(path: path, reason: Self.reason(err, verb: "cannot read"), code: err)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > maxBytes { throw Failure(path: path, reason: "is larger than \(maxBytes) bytes") }
        }
        return out
    }

    /// Reads a UTF-8 text file.
    public static func readText(_ path: String, maxBytes: Int = 4 << 20) throws(Failure) -> String {
        let bytes = try read(path, maxBytes: maxBytes)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure(path: path, reason: "is not valid UTF-8 text")
        }
        return text
    }

    /// Writes to a temporary file in the same directory, fsyncs, then renames over `path`,
    /// so readers see the old or the new content, never a torn one.
    public static func writeAtomically(_ path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(Failure) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: tmp, reason: Self.reason(errno, verb: "cannot create")) }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let err = errno
                Syscall.close(fd)
                unlink(tmp)
                throw Failure(path: tmp, reason: Self.reason(err, verb: "cannot write"))
            }
            offset += n
        }
        if fsync(fd) != 0 {
            let err = errno
            Syscall.close(fd)
            unlink(tmp)
            throw Failure(path: tmp, reason: Self.reason(err, verb: "cannot fsync"))
        }
        Syscall.close(fd)
        if rename(tmp, path) != 0 {
            let err = errno
            unlink(tmp)
            throw Failure(path: path, reason: Self.reason(err, verb: "cannot rename into place"))
        }
    }

    static func reason(_ err: Int32, verb: String) -> String {
        "\(verb): \(String(cString: strerror(err)))"
    }
}
