#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Platform
import Crypto
import Synchronization

/// One JSON line per `/code` decision (issued or refused). The code itself never appears; with an
/// audit key, `code_hmac` = HMAC-SHA256(key, "label:code") lets an operator answer "was this code
/// handed out?" later.
///
/// Fail closed, as Vault's audit devices do: `record` writes the line before the response goes
/// out and says whether it was written, and `/code` hands out no code whose line was not. To a
/// regular file (`GATEWAY_AUDIT_FILE`, opened `O_APPEND`) that is one `write(2)` of the whole
/// line: appends to a regular file are atomic and ordered, so lines from every event loop
/// never interleave, and a full disk fails the request instead of losing its line. To stderr
/// it is the log sink's bounded, non-blocking queue (accepted = written or queued). The first
/// failure is logged once, and again only after a success; failures are counted, and
/// `failingRecently` lets `/healthz` take the instance out of the pool for a while.
///
/// ```swift
/// let audit = AuditLog(sink: .standardError, key: nil)
/// audit.record(time: (1_764_064_800, 0), token: "bot", label: "certus", outcome: "issued", status: 200,
///     remote: "127.0.0.1", forwardedFor: nil, requestID: "r1", code: "123456")   // true: written
/// ```
final class AuditLog: Sendable {
    let sink: LogSink
    let key: [UInt8]?
    /// Where the first failure (and the recovery) is reported; nil: nowhere (tests).
    let logger: Logger?
    /// How long `/healthz` stays degraded after a failed write. Then it answers 200 again, so
    /// HAProxy sends traffic and the next request tries the audit file again.
    static let degradedSeconds: Int64 = 10
    private let failing = Atomic<Bool>(false)
    private let failureCount = Atomic<Int>(0)
    /// Monotonic time (ns) of the last failed write; 0: none.
    private let lastFailure = Atomic<Int64>(0)

    init(sink: LogSink, key: [UInt8]?, logger: Logger? = nil) {
        self.sink = sink
        self.key = key
        self.logger = logger
    }

    /// Lines that could not be written since start.
    var failures: Int { failureCount.load(ordering: .relaxed) }

    /// 1 while the last write failed.
    var isFailing: Bool { failing.load(ordering: .relaxed) }

    /// A write failed within the last `degradedSeconds`.
    var failingRecently: Bool {
        let last = lastFailure.load(ordering: .relaxed)
        return last != 0 && Int64(MonotonicClock.nanoseconds()) - last < Self.degradedSeconds * 1_000_000_000
    }

    /// Nothing is buffered any more (every line is written by `record`); kept so shutdown can
    /// wait for the stderr sink's queue.
    func flush() { sink.drain(timeout: .seconds(2)) }

    /// `HMAC-SHA256(key, "label:code")` in hex, as `openssl dgst -sha256 -hmac KEY` prints it.
    static func codeHMAC(key: [UInt8], label: String, code: String) -> String {
        Crypto.hex(Crypto.hmac(.sha256, key: key, message: Array("\(label):\(code)".utf8)))
    }

    /// Writes the line; false when it could not be written (then no code may be handed out).
    @discardableResult
    func record(time: (seconds: Int64, nanoseconds: Int64), token: String?, label: String?, outcome: String, status: Int,
        remote: String, forwardedFor: String?, requestID: String, code: String?, clientCert: String? = nil) -> Bool
    {
        let hmac = (code != nil && key != nil && label != nil) ? Self.codeHMAC(key: key!, label: label!, code: code!) : nil
        // 256: the fixed keys and punctuation (about 190 bytes) and the status.
        var bound = 256 + UTCTimestamp.maxLength + JSONText.maxQuotedCount(outcome) + JSONText.maxQuotedCount(remote)
            + JSONText.maxQuotedCount(requestID) + (hmac?.utf8.count ?? 0)
        if let forwardedFor { bound += JSONText.maxQuotedCount(forwardedFor) }
        if let clientCert { bound += 16 + JSONText.maxQuotedCount(clientCert) }
        if let label { bound += JSONText.maxQuotedCount(label) }
        if let token { bound += JSONText.maxQuotedCount(token) }
        // Formatted on the stack, written with one call.
        let result = ByteWriter.withBytes(expectedCount: bound, { w in
            w.write(static: #"{"time":""#)
            UTCTimestamp.write(seconds: time.seconds, nanoseconds: time.nanoseconds, to: &w)
            w.write(static: #"","level":"info","event":"code_request","component":"audit""#)
            // Keys in sorted order, like the logger's lines.
            if let clientCert {
                w.write(static: #","client_cert":"#)
                w.write(jsonString: clientCert)
            }
            if let hmac {
                w.write(static: #","code_hmac":""#)
                w.write(utf8: hmac)
                w.write(byte: 0x22)
            }
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
        }) { line in sink.write(lines: UnsafeRawBufferPointer(line)) }
        if result.isAccepted {
            if failing.exchange(false, ordering: .relaxed) {
                logger?.info("audit_write_recovered", ["message": "audit lines are written again; /code issues codes again"])
            }
            return true
        }
        failureCount.add(1, ordering: .relaxed)
        lastFailure.store(Int64(MonotonicClock.nanoseconds()), ordering: .relaxed)
        if !failing.exchange(true, ordering: .relaxed) {
            var reason = "the log queue is full (stderr is not read fast enough)"
            if case .failed(let err) = result { reason = String(cString: strerror(err)) }
            logger?.error("audit_write_failed", [
                "error": .string(reason),
                "message": "an audit line could not be written; /code answers 503 and issues no code until one is (logged once)",
            ])
        }
        return false
    }
}
