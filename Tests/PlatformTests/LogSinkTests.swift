import Foundation
import XCTest
@testable import Platform

/// The log sink against a real pipe nobody reads (yet): writers never block, lines come out
/// whole and in order once the reader catches up, and what the bounded backlog cannot hold is
/// dropped and counted.
final class LogSinkTests: XCTestCase {
    private func makePipe(size: Int32) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        _ = fcntl(fds[1], 1031, size)  // F_SETPIPE_SZ
        return (fds[0], fds[1])
    }

    private func readAll(_ fd: Int32, until count: Int) -> [String] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(10)
        var lines: [String] = []
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 100) > 0 {
                let n = read(fd, &chunk, chunk.count)
                if n > 0 { data.append(contentsOf: chunk[0..<n]) }
            }
            lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
            if lines.count >= count { break }
        }
        return lines
    }

    func testASlowReaderNeverBlocksAWriterAndGetsEveryLineInOrder() {
        let (r, w) = makePipe(size: 4096)
        defer { close(r); close(w) }
        let sink = LogSink.fileDescriptor(w)
        // 2,000 lines of ~100 bytes: 50 times what the pipe holds.
        let started = Date()
        var outcomes: [LogSink.Outcome: Int] = [:]
        for i in 0..<2000 {
            let outcome = sink.write(line: "line \(i) " + String(repeating: "x", count: 90))
            outcomes[outcome, default: 0] += 1
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the writes returned without waiting for the reader")
        XCTAssertEqual(outcomes[.dropped] ?? 0, 0)
        XCTAssertGreaterThan(outcomes[.queued] ?? 0, 0, "the pipe filled and lines waited in the backlog")
        let lines = readAll(r, until: 2000)
        XCTAssertEqual(lines.count, 2000)
        XCTAssertEqual(lines.map { $0.split(separator: " ")[1] }, (0..<2000).map { Substring(String($0)) }, "whole and in order")
        XCTAssertEqual(sink.dropped, 0)
    }

    func testAFullBacklogDropsAndCounts() {
        let (r, w) = makePipe(size: 4096)
        defer { close(r); close(w) }
        let sink = LogSink.fileDescriptor(w, maxBacklog: 8192)
        var dropped = 0
        for i in 0..<500 where sink.write(line: "line \(i) " + String(repeating: "y", count: 90)) == .dropped { dropped += 1 }
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertEqual(sink.dropped, dropped)
        // What was accepted still arrives whole.
        let lines = readAll(r, until: 500 - dropped)
        XCTAssertEqual(lines.count, 500 - dropped)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("line ") && $0.hasSuffix("yyy") })
    }

    func testAFailedWriteIsReported() {
        let fd = open("/dev/full", O_WRONLY | O_CLOEXEC)
        defer { close(fd) }
        let sink = LogSink.fileDescriptor(fd)
        XCTAssertEqual(sink.write(line: "x"), .failed(errno: ENOSPC))
        XCTAssertEqual(sink.dropped, 1)
    }
}
