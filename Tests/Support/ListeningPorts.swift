import Foundation

/// The TCP ports a running process listens on, read from the kernel (`/proc`): for a child
/// told to listen on port 0 that does not say which port it got.
///
/// ```swift
/// let port = ListeningPorts.wait(forProcess: pid, timeout: 10).first
/// ```
public enum ListeningPorts {
    /// The ports of the listening TCP sockets (IPv4 and IPv6) the process holds, sorted.
    public static func tcp(ofProcess pid: Int32) -> [Int] {
        let fdDirectory = "/proc/\(pid)/fd"
        var inodes = Set<Substring>()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: fdDirectory)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDirectory + "/" + entry),
                target.hasPrefix("socket:[")
            else { continue }
            inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
        }
        var ports: [Int] = []
        for table in ["tcp", "tcp6"] {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8)) ?? ""
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(fields[9]),
                    let colon = fields[1].lastIndex(of: ":"), let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16)
                else { continue }
                ports.append(port)
            }
        }
        return ports.sorted()
    }

    /// Polls `tcp(ofProcess:)` every 10 ms until the process listens somewhere or `timeout`
    /// passes (or the process is gone); returns what it found.
    public static func wait(forProcess pid: Int32, timeout: TimeInterval) -> [Int] {
        var ports: [Int] = []
        _ = TestProcess.waitUntil(timeout: timeout) {
            ports = tcp(ofProcess: pid)
            return !ports.isEmpty || kill(pid, 0) != 0
        }
        return ports
    }
}
