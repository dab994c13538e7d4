import Dispatch
import Shared
import Synchronization

/// One JSON line per `/code` decision (issued or refused). The code itself never appears; with an
/// audit key, `code_hmac` = HMAC-SHA256(key, "label:code") lets an operator answer "was this code
/// handed out?" later. Lines are buffered and flushed whole every 50 ms (and at shutdown), so the
/// request path does not pay a system call per request.
///
/// ```swift
/// let audit = AuditLog(sink: .standardError, key: nil)
/// audit.record(AuditRecord(token: "bot", label: "certus", outcome: "issued", ...))
/// ```
final class AuditLog: Sendable {
    let sink: LogSink
    let key: [UInt8]?
    private let buffer = Mutex<[UInt8]>([])
    private let timestamps = TimestampCache()
    private static let flushQueue = DispatchQueue(label: "audit-flush")
    static let flushInterval = DispatchTimeInterval.milliseconds(50)
    static let maxBuffered = 64 * 1024

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

    /// `HMAC-SHA256(key, "label:code")` in hex, for `totp-gateway audit-hmac` and the audit line.
    static func codeHMAC(key: [UInt8], label: String, code: String) -> String {
        Crypto.hex(Crypto.hmac(.sha256, key: key, message: Array("\(label):\(code)".utf8)))
    }

    func record(time: (seconds: Int64, nanoseconds: Int64), token: String?, label: String?, outcome: String, status: Int,
        remote: String, forwardedFor: String?, requestID: String, code: String?)
    {
        var line: [UInt8] = []
        line.reserveCapacity(320)
        line.append(contentsOf: #"{"time":""#.utf8)
        timestamps.append(seconds: time.seconds, nanoseconds: time.nanoseconds, to: &line)
        line.append(contentsOf: #"","level":"info","event":"code_request","component":"audit""#.utf8)
        if let code, let key, let label {
            line.append(contentsOf: #","code_hmac":""#.utf8)
            line.append(contentsOf: Self.codeHMAC(key: key, label: label, code: code).utf8)
            line.append(0x22)
        }
        func field(_ name: String, _ value: String) {
            line.append(contentsOf: ",\"\(name)\":".utf8)
            JSONText.appendString(value, to: &line)
        }
        if let forwardedFor { field("forwarded_for", forwardedFor) }
        if let label { field("label", label) }
        field("outcome", outcome)
        field("remote", remote)
        field("request_id", requestID)
        line.append(contentsOf: ",\"status\":\(status)".utf8)
        if let token { field("token", token) }
        line.append(contentsOf: "}\n".utf8)
        let full = buffer.withLock { b -> Bool in
            b.append(contentsOf: line)
            return b.count >= Self.maxBuffered
        }
        if full { flush() }
    }

    func flush() {
        let chunk = buffer.withLock { b -> [UInt8] in
            let out = b
            b.removeAll(keepingCapacity: true)
            return out
        }
        if !chunk.isEmpty { sink.write(lines: chunk) }
    }
}
