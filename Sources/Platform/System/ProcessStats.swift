#if canImport(Glibc)
import Glibc
#endif

/// Readings about this process from `/proc`, `sysconf` and `getrlimit`, each read fresh when
/// asked (nil when the source is unreadable). Parsing is split out so it can be tested on
/// fixed text.
///
/// ```swift
/// ProcessStats.cpuSeconds()          // 0.42
/// ProcessStats.memory()?.resident    // 12_345_344
/// ProcessStats.openFileDescriptors() // 9
/// ```
public enum ProcessStats {
    /// Fields of `/proc/self/stat` that matter here, in clock ticks.
    public struct Stat: Sendable, Equatable {
        public var userTicks: UInt64
        public var systemTicks: UInt64
        /// Time the process started after boot.
        public var startTicks: UInt64
    }

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
    public static let clockTicksPerSecond: Double = {
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        return ticks > 0 ? Double(ticks) : 100
    }()

    /// Memory page size in bytes.
    public static let pageSize: Double = {
        let size = sysconf(Int32(_SC_PAGESIZE))
        return size > 0 ? Double(size) : 4096
    }()

    /// User plus system CPU time, in seconds.
    public static func cpuSeconds() -> Double? {
        guard let text = readFile("/proc/self/stat"), let stat = parseStat(text) else { return nil }
        return Double(stat.userTicks + stat.systemTicks) / clockTicksPerSecond
    }

    /// Resident and virtual memory size in bytes, from `/proc/self/statm`.
    public static func memory() -> (resident: Double, virtual: Double)? {
        guard let text = readFile("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = UInt64(fields[0]), let resident = UInt64(fields[1]) else { return nil }
        return (Double(resident) * pageSize, Double(pages) * pageSize)
    }

    /// Process start, in seconds since the Unix epoch: boot time (`btime` in `/proc/stat`)
    /// plus the `starttime` ticks of `/proc/self/stat`. It never changes, so read it once.
    public static func startTimeSeconds() -> Double? {
        guard let statText = readFile("/proc/self/stat"), let stat = parseStat(statText),
              let procStat = readFile("/proc/stat"), let boot = parseBootTime(procStat)
        else { return nil }
        return Double(boot) + Double(stat.startTicks) / clockTicksPerSecond
    }

    /// Open descriptors: the entries of `/proc/self/fd`, not counting the one used to list it.
    public static func openFileDescriptors() -> Int? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        let own = dirfd(dir)
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let fd = Int32(name), fd != own else { continue }
            count += 1
        }
        return count
    }

    /// The soft `RLIMIT_NOFILE` limit (`+Inf` when unlimited).
    public static func maxFileDescriptors() -> Double? {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        // RLIM_INFINITY is all ones; its C macro (-1 cast) does not import as an unsigned value.
        return limit.rlim_cur == rlim_t.max ? .infinity : Double(limit.rlim_cur)
    }

    /// Parses `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses,
    /// so fields are counted from the last `)`.
    public static func parseStat(_ text: String) -> Stat? {
        guard let close = text.utf8.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // After ")": field 3 (state) is index 0, so field N is index N - 3.
        let fields = text[text.utf8.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 19,
              let user = UInt64(fields[14 - 3]), let system = UInt64(fields[15 - 3]),
              let start = UInt64(fields[22 - 3])
        else { return nil }
        return Stat(userTicks: user, systemTicks: system, startTicks: start)
    }

    /// The `btime` line of `/proc/stat`: boot time in seconds since the epoch.
    public static func parseBootTime(_ text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst("btime ".count).trimmingPrefix(" "))
        }
        return nil
    }

    /// Reads a whole file; `/proc` files report size 0, so read until end of file.
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Syscall.close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count: Int
            do {
                count = try Syscall.call("read") {
                    buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                }
            } catch {
                return nil
            }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
