import FoundationEssentials
import Platform

/// What the lock file says about the current leader: who (pid, host), since when, and the
/// election epoch, incremented at every takeover. Written by the leader through its lock
/// descriptor; the file is informational (the kernel's flock is what elects).
///
/// ```swift
/// let record = LeaderRecord(epoch: 3, pid: 4242, host: "bot-1", since: "2026-11-25T10:00:00.000Z")
/// record.json   // {"epoch":3,"pid":4242,"host":"bot-1","since":"2026-11-25T10:00:00.000Z"}
/// ```
struct LeaderRecord: Codable, Sendable, Equatable {
    var epoch: Int
    var pid: Int
    var host: String
    var since: String

    var json: String {
        var out = "{\"epoch\":\(epoch),\"pid\":\(pid),\"host\":"
        JSONText.appendString(host, to: &out)
        out += ",\"since\":"
        JSONText.appendString(since, to: &out)
        return out + "}\n"
    }

    /// The record in `bytes`, or nil for an empty or foreign file (epoch then starts at 1).
    static func parse(_ bytes: [UInt8]) -> LeaderRecord? {
        try? JSONDecoder().decode(LeaderRecord.self, from: Data(bytes))
    }
}
