import XCTest
@testable import HTTPServer

/// The loop's connection table and the per-client counts, without sockets or real time: which
/// connection makes room at the connection cap, and which client may open one more.
final class HTTPConnectionTableTests: XCTestCase {
    private let limits = HTTPConnectionStateMachine.Timeouts(header: 100, idle: 600, write: 50)
    private var made: [HTTPConnection] = []

    override func tearDown() {
        // Never opened, so never closed by a loop: mark them, as a loop's close would.
        for connection in made { connection.machine.markClosed() }
        made = []
    }

    /// A connection on (fake) descriptor `fd`, accepted at `acceptedAt`.
    private func connection(_ fd: Int32, acceptedAt: UInt64) -> HTTPConnection {
        let connection = HTTPConnection(
            transport: HTTPTransport(fd: fd), remoteAddress: "192.0.2.1", parser: HTTPRequestParser(),
            machine: HTTPConnectionStateMachine(acceptedAt: acceptedAt, timeouts: limits, draining: false),
            countedForClient: false)
        made.append(connection)
        return connection
    }

    func testInsertFindRemove() {
        let table = HTTPConnectionTable()
        let a = connection(3, acceptedAt: 0)
        let b = connection(200, acceptedAt: 0)
        table.insert(a)
        table.insert(b)
        XCTAssertEqual(table.count, 2)
        XCTAssertTrue(table[3] === a)
        XCTAssertTrue(table[200] === b)
        XCTAssertNil(table[4])
        XCTAssertNil(table[-1])
        XCTAssertNil(table[100_000])
        XCTAssertTrue(table.remove(a))
        XCTAssertFalse(table.remove(a), "a second close finds nothing to remove")
        XCTAssertNil(table[3])
        XCTAssertEqual(table.count, 1)
    }

    func testForEachAllowsClosingWhileIterating() {
        let table = HTTPConnectionTable()
        let all = (10..<20).map { connection(Int32($0), acceptedAt: 0) }
        all.forEach(table.insert)
        var seen = 0
        table.forEach { connection in
            seen += 1
            table.remove(connection)
        }
        XCTAssertEqual(seen, 10)
        XCTAssertEqual(table.count, 0)
    }

    func testTheConnectionIdleLongestIsEvicted() {
        let table = HTTPConnectionTable()
        let newer = connection(5, acceptedAt: 30)
        let oldest = connection(6, acceptedAt: 10)
        let middle = connection(7, acceptedAt: 20)
        // Older still, but with a request in progress: not a candidate.
        let busy = connection(8, acceptedAt: 1)
        busy.machine.headIncomplete(now: 2, timeouts: limits)
        // Older still, but its response is blocked on the peer: not a candidate.
        let writing = connection(9, acceptedAt: 2)
        writing.machine.requestAnswered(closing: false)
        _ = writing.machine.outputBlocked(now: 3, timeouts: limits)
        [newer, oldest, middle, busy, writing].forEach(table.insert)
        XCTAssertTrue(table.idlest() === oldest)
        table.remove(oldest)
        XCTAssertTrue(table.idlest() === middle)
    }

    func testActivityMakesAConnectionYounger() {
        let table = HTTPConnectionTable()
        let a = connection(5, acceptedAt: 10)
        let b = connection(6, acceptedAt: 20)
        [a, b].forEach(table.insert)
        // a is served a request at 50: it is now the one idle the shortest time.
        _ = a.machine.bytesRead(now: 50)
        a.machine.requestAnswered(closing: false)
        _ = a.machine.outputWritten(now: 50, timeouts: limits)
        XCTAssertTrue(table.idlest() === b)
    }

    func testNothingToEvictWhenEveryConnectionIsBusy() {
        let table = HTTPConnectionTable()
        XCTAssertNil(table.idlest())
        let busy = connection(5, acceptedAt: 0)
        busy.machine.headIncomplete(now: 1, timeouts: limits)
        table.insert(busy)
        XCTAssertNil(table.idlest())
    }

    // MARK: - Per-client counts

    func testAClientGetsAtMostItsLimit() {
        var counts = HTTPClientConnectionCounts(limit: 2, exempt: { _ in false })
        XCTAssertEqual(counts.admit("192.0.2.7"), .counted)
        XCTAssertEqual(counts.admit("192.0.2.7"), .counted)
        XCTAssertEqual(counts.admit("192.0.2.7"), .refused)
        XCTAssertEqual(counts.admit("192.0.2.8"), .counted, "another client is not affected")
        counts.release("192.0.2.7")
        XCTAssertEqual(counts.admit("192.0.2.7"), .counted, "a closed connection frees its slot")
    }

    func testExemptAddressesAndNoLimitAreNotCounted() {
        var proxies = HTTPClientConnectionCounts(limit: 1, exempt: { $0 == "10.0.0.1" })
        for _ in 0..<5 { XCTAssertEqual(proxies.admit("10.0.0.1"), .notCounted) }
        XCTAssertEqual(proxies.addressCount, 0)
        var unlimited = HTTPClientConnectionCounts(limit: 0, exempt: { _ in false })
        for _ in 0..<5 { XCTAssertEqual(unlimited.admit("192.0.2.7"), .notCounted) }
        XCTAssertEqual(unlimited.addressCount, 0)
    }

    func testEntriesGoWhenTheirCountReturnsToZero() {
        var counts = HTTPClientConnectionCounts(limit: 3, exempt: { _ in false })
        for i in 0..<100 { XCTAssertEqual(counts.admit("192.0.2.\(i)"), .counted) }
        XCTAssertEqual(counts.addressCount, 100)
        for i in 0..<100 { counts.release("192.0.2.\(i)") }
        XCTAssertEqual(counts.addressCount, 0, "the table is bounded by the open connections")
    }
}
