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
/// thread, so the event loops do not contend for one lock: lines of one connection (always one
/// loop) stay in order; across loops a flush groups them by shard, and each line has its time.
///
/// ```swift
/// let audit = AuditLog(sink: .standardError, key: nil)
/// audit.record(AuditRecord(token: "bot", label: "certus", outcome: "issued", ...))
/// ```
final class AuditLog: Sendable {
    let sink: LogSink
    let key: [UInt8]?
    private let shards: [Shard] = (0..<AuditLog.shardCount).map { _ in Shard() }
    static let shardCount = 8
    private static let flushQueue = DispatchQueue(label: "audit-flush")
    static let flushInterval = DispatchTimeInterval.milliseconds(50)
    static let maxBuffered = 64 * 1024

    /// One shard's pending lines, padded to its own cache lines.
    private final class Shard: Sendable {
        let lines = Mutex<[UInt8]>([])
        private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// The calling thread's shard (a multiplicative hash of its pthread id: stable per thread).
    private var shard: Shard {
        let id = UInt64(UInt(bitPattern: Int(bitPattern: pthread_self())))
        return shards[Int((id &* 0x9E37_79B9_7F4A_7C15) >> 61) % Self.shardCount]
    }

    init(sink: LogSink, key: [UInt8]?) {
        self.sink = sink
        self.key = key
        scheduleFlush()
    }

    /// Flushes every `flushInterval` for as long as the log exists.
    private func scheduleFlush() {
        Self.flushQueue.asyncAfter(deadline: .now() + Self.flushInterval) { [weak self] in
            guard let self else { return }
            self.flush()
            self.scheduleFlush()
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
            shard.lines.withLock { b -> Bool in
                b.append(contentsOf: line)
                return b.count >= Self.maxBuffered / Self.shardCount
            }
        }
        if full { flush() }
    }

    /// Writes every shard's lines in one write (a line is never split).
    func flush() {
        var chunk: [UInt8] = []
        for shard in shards {
            shard.lines.withLock { b in
                chunk.append(contentsOf: b)
                b.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { sink.write(lines: chunk) }
    }
}
