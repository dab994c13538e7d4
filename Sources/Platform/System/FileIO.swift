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
        /// The `errno` of the failed call (`ENOENT`...); `EFBIG` for a file over the size cap;
        /// 0 when no call failed (a directory, not UTF-8).
        public let errorNumber: Int32
        public var description: String { "\(path): \(reason)" }

        /// Only this means "absent": an optional file that exists but cannot be read is an error.
        public var isNotFound: Bool { errorNumber == ENOENT }

        /// The file is larger than the `maxBytes` it was read with.
        public var isTooLarge: Bool { errorNumber == EFBIG }

        public init(path: String, reason: String, errorNumber: Int32 = 0) {
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
    /// Anything else (a FIFO, a device, a socket) is refused without blocking: the file is
    /// opened `O_NONBLOCK`, so a FIFO with no writer cannot hang a reload in `open()`.
    public static func read(_ path: String, maxBytes: Int = 4 << 20) throws(Failure) -> [UInt8] {
        try readStable(path, maxBytes: maxBytes).bytes
    }

    /// What identifies one version of a file: device, inode, size and modification time (ns).
    public struct Version: Sendable, Equatable {
        public let device: UInt64
        public let inode: UInt64
        public let size: Int64
        public let modified: Int64
        /// Permission bits (`st_mode & 0o7777`).
        public let mode: UInt32

        init(_ st: stat) {
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            modified = Int64(st.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(st.st_mtim.tv_nsec)
            mode = UInt32(st.st_mode) & 0o7777
        }

        /// Same file, same content as far as the file system tells (mode changes are not content).
        func sameContent(as other: Version) -> Bool {
            device == other.device && inode == other.inode && size == other.size && modified == other.modified
        }
    }

    /// Reads a regular file and checks it did not change while it was read: the descriptor's
    /// size, mtime and inode are the same before and after, and the path still names that
    /// file. A file being rewritten in place (or replaced) is read again, up to `attempts` times
    /// 20 ms apart, then refused: a half-written configuration is never returned.
    public static func readStable(_ path: String, maxBytes: Int = 4 << 20, attempts: Int = 5) throws(Failure) -> (bytes: [UInt8], version: Version) {
        var attempt = 1
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
            guard fd >= 0 else { throw Failure(path: path, errno: errno, verb: "cannot open") }
            defer { Syscall.close(fd) }
            var before = stat()
            guard fstat(fd, &before) == 0 else { throw Failure(path: path, errno: errno, verb: "cannot stat") }
            switch before.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw Failure(path: path, reason: "is a directory, expected a file")
            default:
                throw Failure(path: path, reason: "is not a regular file (a FIFO, socket or device); give the path of a regular file")
            }
            let tooLarge = Failure(path: path, reason: "is larger than \(maxBytes) bytes", errorNumber: EFBIG)
            // Refused before reading a byte when the size says so (a runaway file of gigabytes).
            if Int64(before.st_size) > Int64(maxBytes) { throw tooLarge }
            var out: [UInt8] = []
            out.reserveCapacity(Int(before.st_size) + 1)
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
                if out.count > maxBytes { throw tooLarge }
            }
            var after = stat()
            var named = stat()
            let version = Version(before)
            if fstat(fd, &after) == 0, stat(path, &named) == 0, Version(after).sameContent(as: version),
                Version(named).sameContent(as: version), Int64(out.count) == version.size
            {
                return (out, version)
            }
            guard attempt < attempts else {
                throw Failure(path: path, reason: "changed while it was read \(attempts) times in a row; replace it atomically (write a temporary file, then rename it over this one)")
            }
            attempt += 1
            usleep(20_000)
        }
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

    /// Why `path` could not be opened for writing, created if missing (nil: it could), checked
    /// without creating it: for `--check-config`, which must not leave files behind.
    public static func writableProblem(_ path: String) -> String? {
        if access(path, F_OK) == 0 {
            return access(path, W_OK) == 0 ? nil : "\(path) is not writable by this user"
        }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        return access(directory, W_OK | X_OK) == 0 ? nil : "directory \(directory) does not exist or is not writable, so \(path) cannot be created"
    }
}
