import Foundation
import Synchronization
import TestSupport
import XCTest
@testable import CurlHTTP

/// `HTTPClient.stream`: pieces arrive while the response is still open, the receiver can stop
/// it, a cancellation from another thread ends an idle stream at once, and timeouts still apply.
final class HTTPClientStreamingTests: XCTestCase {
    private let http = HTTPClient(options: HTTPClientOptions(userAgent: "totp-tests/1.0"))

    private func request(_ server: ChunkedStreamServer, timeout: Duration = .seconds(20)) -> HTTPClientRequest {
        HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(server.port)/v3/watch", body: Array("{}".utf8),
                          timeout: timeout, connectTimeout: .seconds(2))
    }

    func testPiecesArriveWhileTheResponseIsStillOpen() throws {
        let server = try ChunkedStreamServer()
        defer { server.close() }
        server.send(chunk: "line 1\n")
        var received = ""
        let end = try http.stream(request(server)) { status, bytes in
            XCTAssertEqual(status, 200)
            received += String(decoding: bytes, as: UTF8.self)
            // The server sends the next piece only once this one was seen: a client that
            // waited for the whole body would never get here.
            if received == "line 1\n" { server.send(chunk: "line 2\n", thenFinish: true) }
            return true
        }
        XCTAssertEqual(received, "line 1\nline 2\n")
        XCTAssertEqual(end.reason, .complete)
        XCTAssertEqual(end.status, 200)
    }

    func testTheReceiverCanStopTheStream() throws {
        let server = try ChunkedStreamServer()
        defer { server.close() }
        server.send(chunk: "stop here\n")
        let end = try http.stream(request(server)) { _, _ in false }
        XCTAssertEqual(end.reason, .stoppedByReceiver)
    }

    func testCancellingFromAnotherThreadEndsAnIdleStream() throws {
        let server = try ChunkedStreamServer()
        defer { server.close() }
        server.send(chunk: "created\n")  // then nothing more: the server idles until closed
        let cancellation = HTTPCancellation()
        let started = ContinuousClock.now
        let end = try http.stream(request(server, timeout: .seconds(60)), cancellation: cancellation) { _, _ in
            DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { cancellation.cancel() }
            return true
        }
        XCTAssertEqual(end.reason, .cancelled)
        // Bounded, not a speed target: without the cancellation this call would last 60 s.
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(30))
    }

    func testACancelledCancellationStopsTheNextStreamBeforeItConnects() throws {
        let server = try ChunkedStreamServer()
        defer { server.close() }
        let cancellation = HTTPCancellation()
        cancellation.cancel()
        var called = false
        let end = try http.stream(request(server), cancellation: cancellation) { _, _ in
            called = true
            return true
        }
        XCTAssertEqual(end.reason, .cancelled)
        XCTAssertFalse(called)
        XCTAssertEqual(server.acceptedConnections, 0)
    }

    func testTheTimeoutStillApplies() throws {
        let server = try ChunkedStreamServer()
        defer { server.close() }
        server.send(chunk: "created\n")
        XCTAssertThrowsError(try http.stream(request(server, timeout: .milliseconds(300))) { _, _ in true }) { error in
            XCTAssertEqual((error as? HTTPClientError)?.kind, .timeout)
        }
    }

    func testAnErrorStatusAndItsBodyReachTheReceiver() throws {
        let server = try ChunkedStreamServer(status: "404 Not Found")
        defer { server.close() }
        server.send(chunk: #"{"error":"nope"}"#, thenFinish: true)
        var statuses: Set<Int> = []
        var body = ""
        let end = try http.stream(request(server)) { status, bytes in
            statuses.insert(status)
            body += String(decoding: bytes, as: UTF8.self)
            return true
        }
        XCTAssertEqual(end.status, 404)
        XCTAssertEqual(statuses, [404])
        XCTAssertEqual(body, #"{"error":"nope"}"#)
    }
}

/// Answers one connection on 127.0.0.1:<ephemeral> with a chunked response whose pieces the
/// test sends one by one; the connection stays open until `thenFinish` or `close()`.
private final class ChunkedStreamServer: Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let status: String
    private let connection = Mutex<Int32>(-1)
    private let queue = Mutex<[(String, Bool)]>([])
    private let ready = DispatchSemaphore(value: 0)
    private let accepted = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    var acceptedConnections: Int { accepted.load(ordering: .relaxed) }

    init(status: String = "200 OK") throws {
        self.status = status
        let listener = try LoopbackSocket.bind(listening: 4)
        listenFD = listener.fd
        port = UInt16(listener.port)
        Thread.detachNewThread { [self] in serve() }
    }

    /// Queues one chunk; `thenFinish` ends the response after it.
    func send(chunk: String, thenFinish: Bool = false) {
        queue.withLock { $0.append((chunk, thenFinish)) }
        ready.signal()
    }

    func close() {
        closed.store(true, ordering: .relaxed)
        ready.signal()
        shutdown(listenFD, Int32(SHUT_RDWR))
        connection.withLock { fd in if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    private func serve() {
        defer { Glibc.close(listenFD) }
        let fd = accept(listenFD, nil, nil)
        guard fd >= 0, !closed.load(ordering: .relaxed) else { return }
        accepted.add(1, ordering: .relaxed)
        connection.withLock { $0 = fd }
        defer { Glibc.close(fd) }
        // Read the request head and its small body (the test sends "{}").
        var buffer = [UInt8](repeating: 0, count: 4096)
        var request: [UInt8] = []
        while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n{}") {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            request.append(contentsOf: buffer[0..<n])
        }
        write(fd, "HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        while !closed.load(ordering: .relaxed) {
            // Bounded: a test that forgets to finish or close ends here after 60 s.
            if ready.wait(timeout: .now() + 60) == .timedOut { return }
            let pending = queue.withLock { queue in
                defer { queue.removeAll() }
                return queue
            }
            for (chunk, finish) in pending {
                write(fd, String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n")
                if finish {
                    write(fd, "0\r\n\r\n")
                    return
                }
            }
        }
    }

    private func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}
