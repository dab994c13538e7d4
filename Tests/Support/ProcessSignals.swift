import Foundation

/// What a running process does with signals, from `/proc/PID/task/*/status`: for the tests that
/// hold a program to "signals are handled before anything else starts".
public enum ProcessSignals {
    /// The threads (by name) that do not block every signal of `signals`, leaving out those
    /// named `except` (the thread that takes them with sigwait shows them unblocked).
    public static func threadsNotBlocking(pid: Int32, _ signals: [Int32], except: Set<String>) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var open: [String] = []
        for task in tasks {
            let base = "/proc/\(pid)/task/\(task)"
            guard let name = (try? String(contentsOfFile: base + "/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines),
                  let status = try? String(contentsOfFile: base + "/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
                  let mask = UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16)
            else { continue }
            if except.contains(name) { continue }
            if !signals.allSatisfy({ mask & (1 << UInt64($0 - 1)) != 0 }) { open.append(name) }
        }
        return open.sorted()
    }

    /// The names of the process's threads.
    public static func threadNames(pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .newlines) }.sorted()
    }
}
