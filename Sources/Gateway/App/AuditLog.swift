#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Shared
import Synchronization

/// One JSON line per `/code` decision (issued or refused). The code itself never appears; with an
/// audit key, `code_hmac` = HMAC-SHA256(key, "label:code") lets an operator answer "was this code
/// handed out?" later. Lines are buffered and flushed whole every 50 ms (and at shutdown), so the
/// request path does not pay a system call per request. The buffer is split in shards picked by
/// thread, so the event loops do not contend for one lock; a flush sorts the shards' lines by
/// their request time (ties keep the order they were recorded in), so the file reads in time order.
///
/// ```swift
/// let audit = AuditLog(sink: .standardError, key: nil)
/// audit.record(time: (1_764_064_800, 0), token: "bot", label: "certus", outcome: "issued", status: 200,
///     remote: "127.0.0.1", forwardedFor: nil, requestID: "r1", code: "123456")
/// audit.flush()   // also every 50 ms and when a shard fills
/// ```
final class AuditLog: Sendable {
    let sink: LogSink
    let key: [UInt8]?
    private let shards: [Shard] = (0..<AuditLog.shardCount).map { _ in Shard() }
    static let shardCount = 8
    private static let flushQueue = DispatchQueue(label: "audit-flush")
    // Held from gathering to writing, so two flushes (timer and a full shard) cannot swap order.
    private let flushing = Mutex<Void>(())
    static let flushInterval = DispatchTimeInterval.milliseconds(50)
    static let maxBuffered = 64 * 1024

    /// One shard's pending lines and, per line, its request time and where it ends.
    private struct Pending {
        var bytes: [UInt8] = []
        var lines: [(nanoseconds: Int64, end: Int)] = []
    }

    /// One shard's pending lines, padded to its own cache lines.
    private final class Shard: Sendable {
        let pending = Mutex<Pending>(Pending())
        private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// The calling thread's shard (a multiplicative hash of its pthread id: stable per thread).
    private var shard: Shard {
        let id = UInt64(UInt(bitPattern: Int(bitPattern: pthread_self())))
        return shards[Int((id &* 0x9E37_79B9_7F4A_7C15) >> 61) % Self.shardCount]
    }

    /// `flushEvery: nil` leaves flushing to the caller (tests that need to know what one flush holds).
    init(sink: LogSink, key: [UInt8]?, flushEvery interval: DispatchTimeInterval? = AuditLog.flushInterval) {
        self.sink = sink
        self.key = key
        if let interval { scheduleFlush(every: interval) }
    }

    /// Flushes every `interval` for as long as the log exists.
    private func scheduleFlush(every interval: DispatchTimeInterval) {
        Self.flushQueue.asyncAfter(deadline: .now() + interval) { [weak self] in
            guard let self else { return }
            self.flush()
            self.scheduleFlush(every: interval)
        }
    }

    /// `HMAC-SHA256(key, "label:code")` in hex, as `openssl dgst -sha256 -hmac KEY` prints it.
    static func codeHMAC(key: [UInt8], label: String, code: String) -> String {
        Crypto.hex(Crypto.hmac(.sha256, key: key, message: Array("\(label):\(code)".utf8)))
    }

    func record(time: (seconds: Int64, nanoseconds: Int64), token: String?, label: String?, outcome: String, status: Int,
        remote: String, forwardedFor: String?, requestID: String, code: String?)
    {
        let hmac = (code != nil && key != nil && label != nil) ? Self.codeHMAC(key: key!, label: label!, code: code!) : nil
        // 256: the fixed keys and punctuation (about 190 bytes) and the status.
        var bound = 256 + UTCTimestamp.maxLength + JSONText.maxQuotedCount(outcome) + JSONText.maxQuotedCount(remote)
            + JSONText.maxQuotedCount(requestID) + (hmac?.utf8.count ?? 0)
        if let forwardedFor { bound += JSONText.maxQuotedCount(forwardedFor) }
        if let label { bound += JSONText.maxQuotedCount(label) }
        if let token { bound += JSONText.maxQuotedCount(token) }
        // Formatted on the stack; the shard is locked only for the copy.
        let full = ByteWriter.withBytes(writingAtMost: bound, { w in
            w.write(static: #"{"time":""#)
            UTCTimestamp.write(seconds: time.seconds, nanoseconds: time.nanoseconds, to: &w)
            w.write(static: #"","level":"info","event":"code_request","component":"audit""#)
            if let hmac {
                w.write(static: #","code_hmac":""#)
                w.write(utf8: hmac)
                w.write(byte: 0x22)
            }
            // Keys in sorted order, like the logger's lines.
            if let forwardedFor {
                w.write(static: #","forwarded_for":"#)
                w.write(jsonString: forwardedFor)
            }
            if let label {
                w.write(static: #","label":"#)
                w.write(jsonString: label)
            }
            w.write(static: #","outcome":"#)
            w.write(jsonString: outcome)
            w.write(static: #","remote":"#)
            w.write(jsonString: remote)
            w.write(static: #","request_id":"#)
            w.write(jsonString: requestID)
            w.write(static: #","status":"#)
            w.write(decimal: status)
            if let token {
                w.write(static: #","token":"#)
                w.write(jsonString: token)
            }
            w.write(static: "}\n")
        }) { line in
            shard.pending.withLock { p -> Bool in
                p.bytes.append(contentsOf: line)
                p.lines.append((time.seconds &* 1_000_000_000 &+ time.nanoseconds, p.bytes.count))
                return p.bytes.count >= Self.maxBuffered / Self.shardCount
            }
        }
        if full { flush() }
    }

    /// Writes every shard's lines in one write, in time order (a line is never split).
    func flush() {
        flushing.withLock { _ in
            var taken: [Pending] = []
            takeAll(from: 0, into: &taken)
            guard !taken.isEmpty else { return }
            sink.write(lines: Self.inTimeOrder(taken))
        }
    }

    /// Takes every shard's lines while holding all the shard locks at once, so the take is one
    /// instant: a request recorded after another (on any thread) never lands in an earlier
    /// flush than it. (`record` holds one shard lock at a time, so this cannot deadlock.)
    private func takeAll(from index: Int, into taken: inout [Pending]) {
        guard index < shards.count else { return }
        shards[index].pending.withLock { p in
            if !p.lines.isEmpty { taken.append(p) }
            p = Pending()
            takeAll(from: index + 1, into: &taken)
        }
    }

    /// The shards' lines sorted by time; ties keep shard and then recording order, so the
    /// result is deterministic. (Sorted rather than merged: two threads can share a shard.)
    private static func inTimeOrder(_ shards: [Pending]) -> [UInt8] {
        var order: [(nanoseconds: Int64, shard: Int, line: Int)] = []
        order.reserveCapacity(shards.reduce(0) { $0 + $1.lines.count })
        for (s, p) in shards.enumerated() {
            for (i, l) in p.lines.enumerated() { order.append((l.nanoseconds, s, i)) }
        }
        order.sort { ($0.nanoseconds, $0.shard, $0.line) < ($1.nanoseconds, $1.shard, $1.line) }
        var out: [UInt8] = []
        out.reserveCapacity(shards.reduce(0) { $0 + $1.bytes.count })
        for o in order {
            let lines = shards[o.shard].lines
            out.append(contentsOf: shards[o.shard].bytes[(o.line == 0 ? 0 : lines[o.line - 1].end)..<lines[o.line].end])
        }
        return out
    }
}
