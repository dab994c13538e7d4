import CurlHTTP
import FoundationEssentials

extension EtcdClient {
    /// Watches `request.range` on one member and calls `onEvents` with each batch of changes and
    /// the store revision it was sent at; `onEvents` returns false to stop. Blocks until then,
    /// until `cancellation` is cancelled, or until the stream ends (`.interrupted`, with the
    /// revision to resume from). Members that cannot be reached before the watch is established
    /// are skipped as in every call. Throws `.compacted` when `startRevision` is older than
    /// etcd's history, `.unreachable` when no member could start the watch.
    public func watch(
        _ request: EtcdWatchRequest, cancellation: HTTPCancellation? = nil,
        onEvents: ([EtcdEvent], _ revision: Int64) -> Bool
    ) throws(EtcdError) -> EtcdWatchEnd {
        let body = try Self.encode(EtcdWire.WatchRequest(create_request: EtcdWire.WatchCreateRequest(
            key: EtcdWire.Bytes(request.range.key), range_end: request.range.rangeEnd.map(EtcdWire.Bytes.init),
            start_revision: request.startRevision == 0 ? nil : EtcdWire.Int64Text(request.startRevision),
            prev_kv: request.previousValues ? true : nil)))
        let cancellation = cancellation ?? HTTPCancellation()
        var problems: [String] = []
        for (index, endpoint) in attemptOrder() {
            var stream = WatchStream(startRevision: request.startRevision, maxLineBytes: configuration.maxResponseBytes)
            let end: HTTPStreamEnd
            do {
                end = try http.stream(
                    httpRequest(endpoint, "/v3/watch", body: body, timeout: request.maxDuration),
                    cancellation: cancellation
                ) { status, bytes in stream.receive(status: status, bytes, onEvents: onEvents) }
            } catch {
                if stream.created {
                    // The member went away or `maxDuration` passed: the caller resumes.
                    return .interrupted(resumeFrom: stream.next)
                }
                problems.append("\(endpoint): \(error.message)")
                continue
            }
            if let failure = stream.failure { throw failure }
            switch end.reason {
            case .cancelled: return .cancelled
            case .stoppedByReceiver: return .stoppedByHandler(resumeFrom: stream.next)
            case .complete: break
            }
            if stream.created { return .interrupted(resumeFrom: stream.next) }
            if end.status >= 500 || (200..<300).contains(end.status) {
                // A member without a raft leader, or a stream that ended before it started.
                problems.append("\(endpoint): HTTP \(end.status) \(Self.errorDetail(stream.errorBody).text)")
                continue
            }
            answered(index)
            throw Self.error(status: end.status, body: stream.errorBody)
        }
        throw EtcdError.unreachable(problems)
    }
}

/// The state of one watch stream while its lines arrive.
private struct WatchStream {
    /// The revision to resume from: after the last event delivered (or the start, until then).
    var next: Int64
    /// True once etcd confirmed the watch.
    var created = false
    /// Why the stream was stopped, if etcd reported an error or sent something unreadable.
    var failure: EtcdError?
    /// The body of a non-2xx answer (an error object), kept for the error message.
    var errorBody: [UInt8] = []
    private var lines: JSONLineBuffer

    init(startRevision: Int64, maxLineBytes: Int) {
        next = startRevision
        lines = JSONLineBuffer(maxLineBytes: maxLineBytes)
    }

    /// Handles one chunk; false stops the stream.
    mutating func receive(status: Int, _ bytes: UnsafeRawBufferPointer, onEvents: ([EtcdEvent], Int64) -> Bool) -> Bool {
        guard (200..<300).contains(status) else {
            errorBody.append(contentsOf: bytes.prefix(4096 - min(errorBody.count, 4096)))
            return true
        }
        for line in lines.append(bytes) {
            if !handle(line, onEvents: onEvents) { return false }
        }
        if lines.overflowed {
            failure = .badResponse("a watch answer line is longer than \(lines.maxLineBytes) bytes; raise maxResponseBytes")
            return false
        }
        return true
    }

    private mutating func handle(_ line: [UInt8], onEvents: ([EtcdEvent], Int64) -> Bool) -> Bool {
        let decoded: EtcdWire.StreamLine<EtcdWire.WatchResponse>
        do {
            decoded = try JSONDecoder().decode(EtcdWire.StreamLine<EtcdWire.WatchResponse>.self, from: Data(line))
        } catch {
            failure = .badResponse("/v3/watch sent a line that is not the expected JSON: \(EtcdClient.describe(error))")
            return false
        }
        if let error = decoded.error {
            failure = EtcdClient.error(status: error.http_code ?? 500, grpcCode: error.grpc_code, message: error.message ?? "")
            return false
        }
        guard let result = decoded.result else { return true }
        let revision = result.header?.revision?.value ?? 0
        if result.canceled == true {
            let compacted = result.compact_revision?.value ?? 0
            failure = compacted > 0
                ? .compacted(at: compacted)
                : .rejected(status: 200, grpcCode: nil, "etcd cancelled the watch: \(result.cancel_reason ?? "no reason given")")
            return false
        }
        if result.created == true {
            created = true
            if next == 0 { next = revision + 1 }
            return true
        }
        let events = (result.events ?? []).map(EtcdEvent.init)
        guard let last = events.last else {
            // A progress notification: everything up to `revision` has been sent.
            next = max(next, revision + 1)
            return true
        }
        next = max(next, last.kv.modRevision + 1)
        return onEvents(events, revision)
    }
}
