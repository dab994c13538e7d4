import XCTest
@testable import Platform

/// Every transition of the process lifecycle, with made-up instants (no clock, no signals).
final class ProcessLifecycleTests: XCTestCase {
    let t0 = ContinuousClock.now
    typealias Stop = LifecycleService.Stop

    /// Three services started: 0, 1, 2, then READY=1.
    func running(_ count: Int = 3, timeout: Duration = .seconds(10)) -> ProcessLifecycle {
        var life = ProcessLifecycle()
        XCTAssertEqual(life.handle(.begin(services: count, stopTimeout: timeout), now: t0), [.start(index: 0)])
        for index in 0..<count - 1 { XCTAssertEqual(life.handle(.started(index: index), now: t0), [.start(index: index + 1)]) }
        XCTAssertEqual(life.handle(.started(index: count - 1), now: t0), [.notifyReady])
        XCTAssertEqual(life.phase, .running)
        return life
    }

    func testServicesStartInOrderAndReadyComesOnlyOnceAllAreUp() {
        _ = running()
        var none = ProcessLifecycle()
        XCTAssertEqual(none.handle(.begin(services: 0, stopTimeout: .seconds(1)), now: t0), [.notifyReady])
    }

    /// The first SIGTERM stops the services one after the other, last started first, all
    /// under one deadline; then exit 0.
    func testFirstSignalStopsGracefullyInReverseOrderUnderOneDeadline() {
        var life = running()
        let t1 = t0 + .seconds(5)
        let deadline = t1 + .seconds(10)
        let stop = Stop(signal: "SIGTERM", deadline: deadline)
        XCTAssertEqual(life.handle(.signal(.terminate), now: t1),
                       [.notifyStopping(signal: "SIGTERM", deadline: deadline), .stop(index: 2, stop)])
        XCTAssertEqual(life.handle(.stopped(index: 2), now: t1 + .seconds(1)), [.stop(index: 1, stop)], "the same deadline for every service")
        XCTAssertEqual(life.handle(.stopped(index: 1), now: t1 + .seconds(2)), [.stop(index: 0, stop)])
        XCTAssertEqual(life.handle(.stopped(index: 0), now: t1 + .seconds(3)), [.exit(.stopped(signal: "SIGTERM"), stoppingNow: [])])
        XCTAssertEqual(ProcessExit.stopped(signal: "SIGTERM").code, 0)
        XCTAssertEqual(life.handle(.signal(.terminate), now: t1 + .seconds(4)), [], "exited: nothing more")
    }

    func testSecondSignalStopsWhatIsLeftAtOnce() {
        var life = running()
        _ = life.handle(.signal(.interrupt), now: t0)
        _ = life.handle(.stopped(index: 2), now: t0)
        XCTAssertEqual(life.handle(.signal(.terminate), now: t0 + .seconds(1)),
                       [.exit(.stoppedNow(signal: "SIGTERM"), stoppingNow: [1, 0])])
        XCTAssertEqual(ProcessExit.stoppedNow(signal: "SIGTERM").code, 1)
    }

    func testTheDeadlineStopsWhatIsLeftAtOnce() {
        var life = running(timeout: .seconds(10))
        _ = life.handle(.signal(.terminate), now: t0)
        XCTAssertEqual(life.handle(.tick, now: t0 + .seconds(9)), [], "before the deadline")
        XCTAssertEqual(life.handle(.tick, now: t0 + .seconds(10)), [.exit(.deadlinePassed(signal: "SIGTERM"), stoppingNow: [2, 1, 0])])
        XCTAssertEqual(ProcessExit.deadlinePassed(signal: "SIGTERM").code, 1)
        var running = running()
        XCTAssertEqual(running.handle(.tick, now: t0 + .seconds(3600)), [], "no deadline while running")
    }

    /// A late `stopped` from a service that is not the one being stopped changes nothing.
    func testStopReportsOutOfOrderAreIgnored() {
        var life = running()
        _ = life.handle(.signal(.terminate), now: t0)
        XCTAssertEqual(life.handle(.stopped(index: 0), now: t0), [])
        XCTAssertEqual(life.phase, .stopping(.init(signal: "SIGTERM", deadline: t0 + .seconds(10)), remaining: 3))
    }

    /// A running service that cannot go on (leadership lost, credentials rejected): the
    /// others stop at once, the exit code is the failure's.
    func testAFailureStopsEverythingAtOnceWithItsCode() {
        var life = running()
        let failure = ServiceFailure(code: 3, message: "credentials rejected")
        XCTAssertEqual(life.handle(.failed(failure), now: t0), [.exit(.failed(failure), stoppingNow: [2, 1, 0])])
        XCTAssertEqual(ProcessExit.failed(failure).code, 3)
        var stopping = running()
        _ = stopping.handle(.signal(.terminate), now: t0)
        _ = stopping.handle(.stopped(index: 2), now: t0)
        XCTAssertEqual(stopping.handle(.failed(failure), now: t0), [.exit(.failed(failure), stoppingNow: [1, 0])])
    }

    /// Settings refused before anything started: exit with the refusal's code, nothing to stop.
    func testRefusedSettingsExitWithTheirCode() {
        var life = ProcessLifecycle()
        let refusal = ServiceFailure(code: 2, message: "configuration refused")
        XCTAssertEqual(life.handle(.failed(refusal), now: t0), [.exit(.failed(refusal), stoppingNow: [])])
    }

    /// A service that cannot start: those already up stop at once, in reverse order.
    func testAFailedStartStopsThoseAlreadyUp() {
        var life = ProcessLifecycle()
        _ = life.handle(.begin(services: 3, stopTimeout: .seconds(10)), now: t0)
        _ = life.handle(.started(index: 0), now: t0)
        _ = life.handle(.started(index: 1), now: t0)
        let failure = ServiceFailure(code: 1, message: "cannot listen")
        XCTAssertEqual(life.handle(.startFailed(failure), now: t0), [.exit(.failed(failure), stoppingNow: [1, 0])])
    }

    /// SIGTERM before the services start (settings still loading): a graceful stop of nothing.
    func testASignalWhilePreparingExitsZero() {
        var life = ProcessLifecycle()
        XCTAssertEqual(life.handle(.signal(.terminate), now: t0), [.exit(.stopped(signal: "SIGTERM"), stoppingNow: [])])
    }

    /// SIGTERM while a service is starting: STOPPING=1 at once; once that start returns, the
    /// services that are up stop in reverse order, and READY=1 is never sent.
    func testASignalWhileStartingStopsOnceTheStartReturns() {
        var life = ProcessLifecycle()
        _ = life.handle(.begin(services: 3, stopTimeout: .seconds(10)), now: t0)
        _ = life.handle(.started(index: 0), now: t0)
        let stop = Stop(signal: "SIGINT", deadline: t0 + .seconds(10))
        XCTAssertEqual(life.handle(.signal(.interrupt), now: t0), [.notifyStopping(signal: "SIGINT", deadline: stop.deadline)])
        XCTAssertEqual(life.handle(.started(index: 1), now: t0), [.stop(index: 1, stop)], "no READY=1, no next start")
        XCTAssertEqual(life.handle(.stopped(index: 1), now: t0), [.stop(index: 0, stop)])
        XCTAssertEqual(life.handle(.stopped(index: 0), now: t0), [.exit(.stopped(signal: "SIGINT"), stoppingNow: [])])

        var twice = ProcessLifecycle()
        _ = twice.handle(.begin(services: 2, stopTimeout: .seconds(10)), now: t0)
        _ = twice.handle(.started(index: 0), now: t0)
        _ = twice.handle(.signal(.terminate), now: t0)
        XCTAssertEqual(twice.handle(.signal(.terminate), now: t0), [.exit(.stoppedNow(signal: "SIGTERM"), stoppingNow: [0])])

        var late = ProcessLifecycle()
        _ = late.handle(.begin(services: 2, stopTimeout: .seconds(10)), now: t0)
        _ = late.handle(.signal(.terminate), now: t0)
        XCTAssertEqual(late.handle(.tick, now: t0 + .seconds(10)), [.exit(.deadlinePassed(signal: "SIGTERM"), stoppingNow: [])],
                       "a start that hangs past the deadline")
    }

    /// SIGHUP reloads while running; one during the start reloads once running; none while
    /// stopping.
    func testHangupReloadsOnlyWhileRunning() {
        var life = running()
        XCTAssertEqual(life.handle(.signal(.hangup), now: t0), [.reload])
        var early = ProcessLifecycle()
        XCTAssertEqual(early.handle(.signal(.hangup), now: t0), [])
        _ = early.handle(.begin(services: 1, stopTimeout: .seconds(10)), now: t0)
        XCTAssertEqual(early.handle(.signal(.hangup), now: t0), [])
        XCTAssertEqual(early.handle(.started(index: 0), now: t0), [.notifyReady, .reload])
        XCTAssertEqual(early.handle(.signal(.hangup), now: t0), [.reload])
        _ = life.handle(.signal(.terminate), now: t0)
        XCTAssertEqual(life.handle(.signal(.hangup), now: t0), [])
    }
}
