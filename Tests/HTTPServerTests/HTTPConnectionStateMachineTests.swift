import XCTest
@testable import HTTPServer

/// Every transition and timeout of one connection, with time passed in: no sockets, no clock.
/// Times are plain numbers of nanoseconds; the limits are small so the arithmetic reads easily.
final class HTTPConnectionStateMachineTests: XCTestCase {
    typealias Machine = HTTPConnectionStateMachine
    let limits = Machine.Timeouts(header: 100, idle: 600, write: 50, linger: 20, drainFreshConnection: 10)

    /// A connection accepted at `at` that has answered one request, written it whole at `at + 5`.
    private func servedOnce(at start: UInt64 = 1_000) -> Machine {
        var machine = Machine(acceptedAt: start, timeouts: limits, draining: false)
        XCTAssertEqual(machine.bytesRead(now: start + 5), .parse)
        machine.requestAnswered(closing: false)
        let (action, completed) = machine.outputWritten(now: start + 5, timeouts: limits)
        XCTAssertEqual(action, .none)
        XCTAssertEqual(completed, 1)
        return machine
    }

    // MARK: - TLS handshake

    func testAHandshakeSharesTheFirstHeadsDeadlineFromAccept() {
        var machine = Machine(acceptedAt: 1_000, timeouts: limits, draining: false, handshake: true)
        XCTAssertEqual(machine.state, .handshaking(deadline: 1_100, wantsWrite: false))
        XCTAssertTrue(machine.isHandshaking)
        XCTAssertFalse(machine.acceptsRequests)
        XCTAssertEqual(machine.handshakeBlocked(wantsWrite: false, now: 1_010), .none)
        XCTAssertEqual(machine.handshakeDone(now: 1_080), .none)
        // The head must still be complete by the accept deadline: no fresh limit for it.
        XCTAssertEqual(machine.state, .awaitingRequest(deadline: 1_100))
        machine.headIncomplete(now: 1_090, timeouts: limits)
        XCTAssertEqual(machine.tick(now: 1_100), .close(.timedOut(.header)))
    }

    func testAStalledHandshakeTimesOutAsHeader() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false, handshake: true)
        XCTAssertEqual(machine.handshakeBlocked(wantsWrite: false, now: 50), .none)
        XCTAssertEqual(machine.tick(now: 99), .none)
        XCTAssertEqual(machine.tick(now: 100), .close(.timedOut(.header)))
        XCTAssertTrue(machine.isClosed)
    }

    func testHandshakeWantWriteSwitchesWhatIsWatched() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false, handshake: true)
        XCTAssertEqual(machine.handshakeBlocked(wantsWrite: true, now: 1), .watchWritable)
        XCTAssertEqual(machine.handshakeBlocked(wantsWrite: true, now: 2), .none)
        XCTAssertEqual(machine.handshakeBlocked(wantsWrite: false, now: 3), .watchReadable)
        XCTAssertEqual(machine.handshakeBlocked(wantsWrite: true, now: 4), .watchWritable)
        // Done while watching for writability: back to readability for the request.
        XCTAssertEqual(machine.handshakeDone(now: 5), .watchReadable)
        XCTAssertTrue(machine.acceptsRequests)
    }

    func testAFailedHandshakeClosesAtOnce() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false, handshake: true)
        XCTAssertEqual(machine.handshakeFailed(), .close(.handshakeFailed))
        XCTAssertTrue(machine.isClosed)
        XCTAssertNil(machine.idleSince)
    }

    func testADrainLeavesAHandshakeItsDeadline() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false, handshake: true)
        XCTAssertFalse(machine.drainStarted())
        XCTAssertEqual(machine.deadline, 100)
        // A handshake begun during a drain gets no more than a fresh connection.
        let late = Machine(acceptedAt: 0, timeouts: limits, draining: true, handshake: true)
        XCTAssertEqual(late.deadline, 10)
    }

    // MARK: - Header and idle timeouts

    func testASilentConnectionTimesOutAsHeaderCountedFromAccept() {
        var machine = Machine(acceptedAt: 1_000, timeouts: limits, draining: false)
        XCTAssertEqual(machine.state, .awaitingRequest(deadline: 1_100))
        XCTAssertEqual(machine.tick(now: 1_099), .none)
        XCTAssertEqual(machine.tick(now: 1_100), .close(.timedOut(.header)))
        XCTAssertTrue(machine.isClosed)
    }

    func testTheFirstHeadIsTimedFromAcceptNotFromItsFirstByte() {
        // Waiting out most of the limit and then trickling bytes earns no fresh limit.
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        XCTAssertEqual(machine.bytesRead(now: 60), .parse)
        machine.headIncomplete(now: 60, timeouts: limits)
        XCTAssertEqual(machine.state, .readingHead(deadline: 100))
        XCTAssertEqual(machine.tick(now: 99), .none)
        XCTAssertEqual(machine.tick(now: 100), .close(.timedOut(.header)))
    }

    func testAFirstHeadStartedAfterItsDeadlineEndsAtTheNextTick() {
        // The sweep runs every 50 ms: bytes may be read after the deadline passed unseen.
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.headIncomplete(now: 130, timeouts: limits)
        XCTAssertEqual(machine.state, .readingHead(deadline: 130))
        XCTAssertEqual(machine.tick(now: 130), .close(.timedOut(.header)))
    }

    func testLaterHeadsAreTimedFromTheirFirstByte() {
        var machine = servedOnce(at: 0)
        machine.headIncomplete(now: 500, timeouts: limits)
        XCTAssertEqual(machine.state, .readingHead(deadline: 600))
        XCTAssertEqual(machine.tick(now: 599), .none)
        XCTAssertEqual(machine.tick(now: 600), .close(.timedOut(.header)))
    }

    func testMoreBytesOfTheSameHeadDoNotExtendItsDeadline() {
        var machine = servedOnce(at: 0)
        machine.headIncomplete(now: 10, timeouts: limits)
        XCTAssertEqual(machine.bytesRead(now: 90), .parse)
        machine.headIncomplete(now: 90, timeouts: limits)
        XCTAssertEqual(machine.deadline, 110)
    }

    func testAKeepAliveConnectionBetweenRequestsTimesOutAsIdle() {
        var machine = servedOnce(at: 0)
        XCTAssertEqual(machine.state, .awaitingRequest(deadline: 605))
        XCTAssertEqual(machine.tick(now: 604), .none)
        XCTAssertEqual(machine.tick(now: 605), .close(.timedOut(.idle)))
    }

    func testTimeoutKindsAndTheirStatisticsKeys() {
        XCTAssertEqual(Machine.TimeoutKind.header.statisticsKey, "header")
        XCTAssertEqual(Machine.TimeoutKind.idle.statisticsKey, "idle")
        XCTAssertEqual(Machine.TimeoutKind.write.statisticsKey, "write")
        XCTAssertNil(Machine.TimeoutKind.linger.statisticsKey, "a linger ends a refusal already counted")
        XCTAssertEqual(Set(HTTPServerStatistics.timeoutKinds), ["header", "idle", "write"])
    }

    // MARK: - Writing

    func testOutputWrittenAtOnceWaitsForTheNextRequest() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestAnswered(closing: false)
        machine.requestAnswered(closing: false)  // pipelined: two responses in one batch
        XCTAssertEqual(machine.inFlight, 2)
        XCTAssertEqual(machine.state, .responding(then: .awaitRequest))
        XCTAssertEqual(machine.deadline, .max, "nothing times out between a request and its write")
        let (action, completed) = machine.outputWritten(now: 7, timeouts: limits)
        XCTAssertEqual(action, .none, "still watching readability")
        XCTAssertEqual(completed, 2)
        XCTAssertEqual(machine.inFlight, 0)
        XCTAssertEqual(machine.state, .awaitingRequest(deadline: 607))
        XCTAssertEqual(machine.requestsServed, 2)
    }

    func testBlockedOutputWatchesWritabilityAndTimesOutAsWrite() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestAnswered(closing: false)
        XCTAssertEqual(machine.outputBlocked(now: 5, timeouts: limits), .watchWritable)
        XCTAssertTrue(machine.isWaitingToWrite)
        XCTAssertFalse(machine.acceptsRequests, "no request is parsed while output is blocked")
        XCTAssertEqual(machine.state, .writing(deadline: 55, then: .awaitRequest))
        XCTAssertEqual(machine.tick(now: 54), .none)
        XCTAssertEqual(machine.tick(now: 55), .close(.timedOut(.write)))
        XCTAssertEqual(machine.inFlight, 1, "the loop still owes the in-flight count on close")
    }

    func testBlockedOutputOnceWrittenWatchesReadabilityAgain() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestAnswered(closing: false)
        _ = machine.outputBlocked(now: 5, timeouts: limits)
        let (action, completed) = machine.outputWritten(now: 30, timeouts: limits)
        XCTAssertEqual(action, .watchReadable)
        XCTAssertEqual(completed, 1)
        XCTAssertEqual(machine.state, .awaitingRequest(deadline: 630))
        XCTAssertEqual(machine.lastActivity, 30)
    }

    func testAPartialHeadBehindAnsweredRequestsKeepsItsClockAcrossABlockedWrite() {
        var machine = servedOnce(at: 0)
        machine.requestAnswered(closing: false)
        machine.headIncomplete(now: 10, timeouts: limits)
        XCTAssertEqual(machine.state, .responding(then: .continueHead(deadline: 110)))
        XCTAssertEqual(machine.outputBlocked(now: 10, timeouts: limits), .watchWritable)
        XCTAssertEqual(machine.state, .writing(deadline: 60, then: .continueHead(deadline: 110)))
        let (action, _) = machine.outputWritten(now: 50, timeouts: limits)
        XCTAssertEqual(action, .watchReadable)
        XCTAssertEqual(machine.state, .readingHead(deadline: 110))
        XCTAssertEqual(machine.tick(now: 110), .close(.timedOut(.header)))
    }

    func testAClosingResponseClosesOnceWritten() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestAnswered(closing: true)
        let (action, completed) = machine.outputWritten(now: 1, timeouts: limits)
        XCTAssertEqual(action, .close(.finished))
        XCTAssertEqual(completed, 1)
        XCTAssertTrue(machine.isClosed)
    }

    func testAClosingResponseBlockedOnTheWayClosesOnceWritten() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestAnswered(closing: true)
        XCTAssertEqual(machine.outputBlocked(now: 1, timeouts: limits), .watchWritable)
        XCTAssertEqual(machine.outputWritten(now: 9, timeouts: limits).action, .close(.finished))
    }

    // MARK: - Refusal and linger

    func testARefusalLingersDiscardingInputThenCloses() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestRefused()
        XCTAssertEqual(machine.inFlight, 0, "a refusal is not a request in flight")
        let (action, _) = machine.outputWritten(now: 3, timeouts: limits)
        XCTAssertEqual(action, .halfCloseAndLinger)
        XCTAssertEqual(machine.state, .lingering(deadline: 23))
        XCTAssertEqual(machine.bytesRead(now: 4), .discard)
        XCTAssertNil(machine.idleSince, "a lingering connection is not evicted as idle")
        XCTAssertEqual(machine.tick(now: 23), .close(.timedOut(.linger)))
    }

    func testALingeringConnectionClosesWhenThePeerDoes() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestRefused()
        _ = machine.outputWritten(now: 3, timeouts: limits)
        XCTAssertEqual(machine.peerClosed(), .close(.peerClosed))
        XCTAssertTrue(machine.isClosed)
    }

    // MARK: - Drain

    func testDrainClosesAKeepAliveConnectionBetweenRequestsAfterOneLastRead() {
        var machine = servedOnce(at: 0)
        XCTAssertTrue(machine.drainStarted(), "a request may already sit in the socket: read first")
        XCTAssertEqual(machine.drainProbed(now: 20, timeouts: limits), .close(.drained))
    }

    func testDrainGivesAFreshConnectionAShortWhileToSendItsRequest() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        XCTAssertTrue(machine.drainStarted())
        XCTAssertEqual(machine.drainProbed(now: 20, timeouts: limits), .none)
        XCTAssertEqual(machine.state, .awaitingRequest(deadline: 30))
        XCTAssertEqual(machine.tick(now: 30), .close(.timedOut(.header)))
    }

    func testAConnectionAcceptedDuringADrainGetsTheShortWait() {
        let machine = Machine(acceptedAt: 0, timeouts: limits, draining: true)
        XCTAssertEqual(machine.deadline, 10)
        var long = limits
        long.drainFreshConnection = 1_000
        XCTAssertEqual(Machine(acceptedAt: 0, timeouts: long, draining: true).deadline, 100, "never longer than the header limit")
    }

    func testDrainLetsAResponseBeingWrittenFinishThenCloses() {
        var machine = Machine(acceptedAt: 0, timeouts: limits, draining: false)
        machine.requestAnswered(closing: false)
        _ = machine.outputBlocked(now: 1, timeouts: limits)
        XCTAssertFalse(machine.drainStarted())
        XCTAssertEqual(machine.state, .writing(deadline: 51, then: .close))
        XCTAssertEqual(machine.outputWritten(now: 9, timeouts: limits).action, .close(.finished))
    }

    func testDrainLeavesAHeadBeingReadToBeAnswered() {
        var machine = servedOnce(at: 0)
        machine.headIncomplete(now: 10, timeouts: limits)
        XCTAssertFalse(machine.drainStarted())
        XCTAssertEqual(machine.state, .readingHead(deadline: 110))
        XCTAssertEqual(machine.drainProbed(now: 11, timeouts: limits), .none)
    }

    // MARK: - Eviction candidates

    func testOnlyAConnectionBetweenRequestsIsIdle() {
        var machine = Machine(acceptedAt: 40, timeouts: limits, draining: false)
        XCTAssertEqual(machine.idleSince, 40, "a connection that never sent a byte is idle since accept")
        _ = machine.bytesRead(now: 45)
        machine.headIncomplete(now: 45, timeouts: limits)
        XCTAssertNil(machine.idleSince, "a request in progress")
        machine.requestAnswered(closing: false)
        XCTAssertNil(machine.idleSince)
        _ = machine.outputBlocked(now: 46, timeouts: limits)
        XCTAssertNil(machine.idleSince, "a response being written")
        _ = machine.outputWritten(now: 70, timeouts: limits)
        XCTAssertEqual(machine.idleSince, 70)
    }

    func testMarkClosedIsFinal() {
        var machine = servedOnce()
        machine.markClosed()
        XCTAssertTrue(machine.isClosed)
        XCTAssertEqual(machine.deadline, .max)
        XCTAssertEqual(machine.tick(now: .max), .none)
        XCTAssertEqual(machine.bytesRead(now: 1), .discard)
        XCTAssertNil(machine.idleSince)
    }
}
