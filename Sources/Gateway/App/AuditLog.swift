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
        var line = "{\"time\":"
        JSONText.appendString(Logger.iso8601(seconds: time.seconds, nanoseconds: time.nanoseconds), to: &line)
        line += ",\"level\":\"info\",\"event\":\"code_request\",\"component\":\"audit\""
        if let code, let key, let label {
            line += ",\"code_hmac\":\"" + Self.codeHMAC(key: key, label: label, code: code) + "\""
        }
        if let forwardedFor {
            line += ",\"forwarded_for\":"
            JSONText.appendString(forwardedFor, to: &line)
        }
        if let label {
            line += ",\"label\":"
            JSONText.appendString(label, to: &line)
        }
        line += ",\"outcome\":"
        JSONText.appendString(outcome, to: &line)
        line += ",\"remote\":"
        JSONText.appendString(remote, to: &line)
        line += ",\"request_id\":"
        JSONText.appendString(requestID, to: &line)
        line += ",\"status\":\(status)"
        if let token {
            line += ",\"token\":"
            JSONText.appendString(token, to: &line)
        }
        line += "}\n"
        let full = buffer.withLock { b -> Bool in
            b.append(contentsOf: line.utf8)
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
