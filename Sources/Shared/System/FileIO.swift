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
        /// The `errno` of the failed call (`ENOENT`...), 0 when no call failed (a directory, a
        /// file too large, not UTF-8).
        public let errorNumber: Int32
        public var description: String { "\(path): \(reason)" }

        /// Only this means "absent": an optional file that exists but cannot be read is an error.
        public var isNotFound: Bool { errorNumber == ENOENT }

        init(path: String, reason: String, errorNumber: Int32 = 0) {
            self.path = path
            self.reason = reason
            self.errorNumber = errorNumber
        }

        init(path: String, errno err: Int32, verb: String) {
            self.init(path: path, reason: FileIO.reason(err, verb: verb), errorNumber: err)
        }
    }

    /// True for `/abs`, `./rel` and `../rel`: the paths that are safe to print even when a variable
    /// meant to hold a path might hold a secret instead.
    public static func looksLikePath(_ text: String) -> Bool {
        text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("../")
    }

    /// Reads a regular file of at most `maxBytes` (secrets and configs are small; a huge file is a mistake).
    public static func read(_ path: String, maxBytes: Int = 4 << 20) throws(Failure) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: path, errno: errno, verb: "cannot open") }
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
                throw Failure(path: path, errno: err, verb: "cannot read")
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

    /// Writes to a temporary file in the same directory, fsyncs, renames it over `path`, then
    /// fsyncs the directory, so readers see the old or the new content, never a torn one, and
    /// the new content survives a power loss once this returns.
    public static func writeAtomically(_ path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(Failure) {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: tmp, errno: errno, verb: "cannot create") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let err = errno
                Syscall.close(fd)
                unlink(tmp)
                throw Failure(path: tmp, errno: err, verb: "cannot write")
            }
            offset += n
        }
        if fsync(fd) != 0 {
            let err = errno
            Syscall.close(fd)
            unlink(tmp)
            throw Failure(path: tmp, errno: err, verb: "cannot fsync")
        }
        Syscall.close(fd)
        if rename(tmp, path) != 0 {
            let err = errno
            unlink(tmp)
            throw Failure(path: path, errno: err, verb: "cannot rename into place")
        }
        // The rename lives in the directory: until the directory is synced, a crash can bring
        // back the old name (or no file at all).
        try syncDirectory(of: path)
    }

    /// fsyncs the directory holding `path`.
    static func syncDirectory(of path: String) throws(Failure) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: directory, errno: errno, verb: "cannot open directory to fsync it") }
        defer { Syscall.close(fd) }
        // EINVAL: a file system that cannot sync directories (some FUSE mounts); the rename is
        // as durable as it can be made there.
        if fsync(fd) != 0, errno != EINVAL {
            throw Failure(path: directory, errno: errno, verb: "cannot fsync directory")
        }
    }

    static func reason(_ err: Int32, verb: String) -> String {
        "\(verb): \(String(cString: strerror(err)))"
    }
}
