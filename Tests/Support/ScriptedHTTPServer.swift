import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One request as the scripted server received it.
public struct ScriptedRequest: Sendable {
    public var method: String
    /// Request target as sent, query included (`/code?label=x`).
    public var path: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// 1 for the first accepted TCP connection, 2 for the next...
    public var connection: Int

    /// First header named `name`, case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What the scripted server does with one request.
public struct ScriptedResponse: Sendable {
    public enum Action: Sendable {
        /// Answer with status, headers and body.
        case respond
        /// Close the connection without a byte (curl: "Empty reply from server").
        case closeWithoutAnswer
    }

    public var action: Action = .respond
    public var status = 200
    public var reason = "OK"
    public var headers: [(String, String)] = []
    public var body: [UInt8] = []
    /// Wait this long before acting (cut short when the server stops).
    public var delay: Duration = .zero
    /// Keep the connection open for the next request (otherwise `Connection: close`).
    public var keepAlive = true
    /// Send `HTTP/1.1 100 Continue` before the final response.
    public var interimContinue = false

    public static func text(_ status: Int, _ body: String, headers: [(String, String)] = []) -> ScriptedResponse {
        ScriptedResponse(status: status, reason: status < 400 ? "OK" : "Error", headers: headers, body: Array(body.utf8))
    }

    public static func json(_ status: Int, _ body: String) -> ScriptedResponse {
        text(status, body, headers: [("Content-Type", "application/json")])
    }

    public static let emptyReply = ScriptedResponse(action: .closeWithoutAnswer)

    public static func delayed(_ delay: Duration, _ response: ScriptedResponse = .text(200, "late")) -> ScriptedResponse {
        var r = response
        r.delay = delay
        return r
    }
}

/// A small blocking-socket HTTP/1.1 server on `127.0.0.1:<ephemeral>` for client tests. Each
/// request's answer comes from a script (a queue, then a fallback) or a handler; every request
/// is recorded so tests can assert what the client sent. One accept thread plus one thread per
/// connection (at most `maxConnections`); every read polls with a short timeout so `stop()`
/// ends all threads within about a second.
///
/// ```swift
/// let server = try ScriptedHTTPServer(script: [.json(200, "{}")])
/// defer { server.stop() }
/// _ = try http.perform(HTTPClientRequest(url: server.baseURL + "/x"))
/// XCTAssertEqual(server.requests.first?.path, "/x")
/// ```
public final class ScriptedHTTPServer: Sendable {
    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct State {
        var queue: [ScriptedResponse]
        var requests: [ScriptedRequest] = []
        var accepted = 0
        var openConnections = 0
        var runningThreads = 0
    }

    public let port: UInt16
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listenFD: Int32
    private let fallback: ScriptedResponse
    private let handler: (@Sendable (ScriptedRequest) -> ScriptedResponse)?
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)
    private let maxConnections = 16
    /// A connection idle this long is closed (bounds every thread's life).
    private let idleLimit: Duration = .seconds(10)

    /// Answers from `script` in order, then `fallback` for every later request.
    public convenience init(script: [ScriptedResponse] = [], fallback: ScriptedResponse = .text(200, "ok")) throws {
        try self.init(script: script, fallback: fallback, handler: nil)
    }

    /// Answers every request with `handler(request)`.
    public convenience init(handler: @escaping @Sendable (ScriptedRequest) -> ScriptedResponse) throws {
        try self.init(script: [], fallback: .text(200, "ok"), handler: handler)
    }

    private init(script: [ScriptedResponse], fallback: ScriptedResponse,
                 handler: (@Sendable (ScriptedRequest) -> ScriptedResponse)?) throws {
        self.fallback = fallback
        self.handler = handler
        state = Mutex(State(queue: script))
        let listener: (fd: Int32, port: Int)
        do { listener = try LoopbackSocket.bind(listening: 64) } catch { throw StartError(description: "\(error)") }
        port = UInt16(listener.port)
        listenFD = listener.fd
        startThread { [self] in acceptLoop() }
    }

    deinit {
        stop()
    }

    /// Requests received so far, in arrival order.
    public var requests: [ScriptedRequest] { state.withLock { $0.requests } }
    /// TCP connections accepted so far.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// Stops accepting, ends every connection and waits (at most 3 s) for the threads.
    public func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        let deadline = ContinuousClock.now + .seconds(3)
        while state.withLock({ $0.runningThreads }) > 0, ContinuousClock.now < deadline {
            usleep(5_000)
        }
        close(listenFD)
    }

    // MARK: - Threads

    private func startThread(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.runningThreads += 1 }
        let thread = Thread { [self] in
            body()
            state.withLock { $0.runningThreads -= 1 }
        }
        thread.start()
    }

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func acceptLoop() {
        while !isStopped {
            guard waitReadable(listenFD, milliseconds: 50) else { continue }
            let fd = accept(listenFD, nil, nil)  // accept4 is not exported by Glibc
            if fd < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if isStopped { return }
                usleep(10_000)  // EMFILE and friends: back off rather than spin
                continue
            }
            let admitted: Int? = state.withLock {
                guard $0.openConnections < maxConnections else { return nil }
                $0.accepted += 1
                $0.openConnections += 1
                return $0.accepted
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            guard let index = admitted else {
                close(fd)
                continue
            }
            startThread { [self] in
                serve(fd: fd, connection: index)
                close(fd)
                state.withLock { $0.openConnections -= 1 }
            }
        }
    }

    /// `poll` for readability; false on timeout.
    private func waitReadable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, milliseconds) > 0
    }

    /// Reads more bytes into `buffer`; false on EOF, error, stop or idle limit.
    private func readMore(_ fd: Int32, into buffer: inout [UInt8]) -> Bool {
        let deadline = ContinuousClock.now + idleLimit
        while !isStopped, ContinuousClock.now < deadline {
            guard waitReadable(fd, milliseconds: 50) else { continue }
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
            if n < 0, errno == EINTR { continue }
            return false
        }
        return false
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }

    private func serve(fd: Int32, connection: Int) {
        var buffer: [UInt8] = []
        let terminator: [UInt8] = Array("\r\n\r\n".utf8)
        while !isStopped {
            // Head: up to the blank line (capped at 64 KiB).
            var headEnd: Int? = nil
            while headEnd == nil {
                if let range = buffer.firstRange(of: terminator) {
                    headEnd = range.upperBound
                    break
                }
                if let first = buffer.first, !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
                    // Not HTTP (e.g. a TLS ClientHello): answer like a plain server would.
                    _ = sendAll(fd, Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
                    return
                }
                if buffer.count > 64 * 1024 || !readMore(fd, into: &buffer) { return }
            }
            let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
            buffer.removeFirst(headEnd!)
            var lines = head.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
            guard !lines.isEmpty else { return }
            let requestLine = lines.removeFirst().split(separator: " ").map(String.init)
            guard requestLine.count == 3 else { return }
            var headers: [(String, String)] = []
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let value = line[line.index(after: colon)...].drop { $0 == " " }
                headers.append((String(line[..<colon]), String(value)))
            }
            let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
            while buffer.count < length {
                if !readMore(fd, into: &buffer) { return }
            }
            let body = Array(buffer[0..<length])
            buffer.removeFirst(length)

            let request = ScriptedRequest(
                method: requestLine[0], path: requestLine[1], headers: headers, body: body, connection: connection)
            let response: ScriptedResponse
            if let handler {
                state.withLock { $0.requests.append(request) }
                response = handler(request)
            } else {
                response = state.withLock {
                    $0.requests.append(request)
                    return $0.queue.isEmpty ? fallback : $0.queue.removeFirst()
                }
            }

            let wakeAt = ContinuousClock.now + response.delay
            while !isStopped, ContinuousClock.now < wakeAt { usleep(10_000) }
            if isStopped { return }

            switch response.action {
            case .closeWithoutAnswer:
                return
            case .respond:
                var out = ""
                if response.interimContinue { out += "HTTP/1.1 100 Continue\r\n\r\n" }
                out += "HTTP/1.1 \(response.status) \(response.reason)\r\n"
                for (name, value) in response.headers { out += "\(name): \(value)\r\n" }
                if !response.headers.contains(where: { $0.0.lowercased() == "content-length" }) {
                    out += "Content-Length: \(response.body.count)\r\n"
                }
                if !response.keepAlive { out += "Connection: close\r\n" }
                out += "\r\n"
                guard sendAll(fd, Array(out.utf8) + response.body), response.keepAlive else { return }
            }
        }
    }
}
