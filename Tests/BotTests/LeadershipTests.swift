import XCTest
@testable import Bot

/// Every transition of the leadership state machine, with made-up instants: no time passes.
final class LeadershipTests: XCTestCase {
    private let t0 = ContinuousClock.now

    private func leader(token: Int64 = 7, queue: String? = "q1") -> Leadership {
        var machine = Leadership()
        XCTAssertEqual(machine.handle(.elected(token: token), now: t0), [.lead(token: token)])
        if let queue {
            XCTAssertEqual(machine.handle(.registering, now: t0), [.register])
            XCTAssertEqual(machine.handle(.registered(queueID: queue), now: t0), [.poll(queueID: queue)])
        }
        return machine
    }

    func testAStandbyLeadsWhenElectedAndHasNothingToLose() {
        var machine = Leadership()
        XCTAssertEqual(machine.role, .standby)
        XCTAssertFalse(machine.isServing)
        XCTAssertFalse(machine.mayAct)
        for event: Leadership.Event in [.lost(reason: "x"), .fenceDeadlinePassed, .registering, .registered(queueID: "q"), .queueLost,
                                        .inFlightDrained(complete: true), .editsFlushed, .queueDeleted, .tick] {
            XCTAssertEqual(machine.handle(event, now: t0), [], "\(event)")
            XCTAssertEqual(machine.phase, .standby, "\(event)")
        }
        XCTAssertEqual(machine.handle(.elected(token: 3), now: t0), [.lead(token: 3)])
        XCTAssertEqual(machine.phase, .leading(token: 3, queue: .none))
        XCTAssertEqual(machine.role, .leader)
        XCTAssertEqual(machine.token, 3)
        XCTAssertTrue(machine.isServing)
        XCTAssertTrue(machine.mayAct)
        XCTAssertEqual(machine.handle(.elected(token: 4), now: t0), [], "news of a leadership it already has")
        XCTAssertEqual(machine.token, 3)
    }

    func testAStandbyStopsAtOnceAndAFailedElectionExitsOne() {
        var machine = Leadership()
        XCTAssertEqual(machine.handle(.stopRequested(signal: "SIGINT"), now: t0),
                       [.announceStopping, .release(leader: false), .exit(.stopped(signal: "SIGINT", role: .standby))])
        XCTAssertEqual(machine.role, .stopping)
        XCTAssertEqual(machine.handle(.elected(token: 1), now: t0), [], "a lock won after the stop leads nothing")
        XCTAssertEqual(machine.phase, .stopped)

        var failing = Leadership()
        XCTAssertEqual(failing.handle(.electionFailed(reason: "flock: EIO"), now: t0), [.exit(.electionFailed(reason: "flock: EIO"))])
        XCTAssertEqual(Leadership.Exit.electionFailed(reason: "x").code, 1)
        XCTAssertEqual(Leadership.Exit.stopped(signal: "SIGTERM", role: .standby).code, 0)
        XCTAssertEqual(Leadership.Exit.stopped(signal: "SIGTERM", role: .leader).code, 0)
        XCTAssertEqual(Leadership.Exit.stoppedNow(signal: "SIGTERM").code, 1)
        XCTAssertEqual(Leadership.Exit.leadershipLost(reason: "x").code, 1)
    }

    func testTheQueueFollowsTheSessionsReports() {
        var machine = leader(queue: nil)
        XCTAssertEqual(machine.queue, .none)
        XCTAssertEqual(machine.handle(.registering, now: t0), [.register])
        XCTAssertEqual(machine.queue, .registering)
        XCTAssertEqual(machine.handle(.registrationFailed, now: t0), [])
        XCTAssertEqual(machine.queue, .none)
        XCTAssertEqual(machine.handle(.registering, now: t0), [.register])
        XCTAssertEqual(machine.handle(.registered(queueID: "q1"), now: t0), [.poll(queueID: "q1")])
        XCTAssertEqual(machine.queue, .registered(id: "q1"))
        XCTAssertEqual(machine.handle(.queueLost, now: t0), [])
        XCTAssertEqual(machine.queue, .none)
        XCTAssertEqual(machine.handle(.registering, now: t0), [.register])
        XCTAssertEqual(machine.handle(.registered(queueID: "q2"), now: t0), [.poll(queueID: "q2")])
        XCTAssertEqual(machine.phase, .leading(token: 7, queue: .registered(id: "q2")))
        for event: Leadership.Event in [.inFlightDrained(complete: true), .editsFlushed, .queueDeleted, .tick] {
            XCTAssertEqual(machine.handle(event, now: t0), [], "\(event) means nothing while leading")
        }
        XCTAssertEqual(machine.phase, .leading(token: 7, queue: .registered(id: "q2")))
    }

    func testLosingTheLeadershipExitsOneOnce() {
        var machine = leader()
        XCTAssertEqual(machine.handle(.lost(reason: "/run/bot.lock was deleted"), now: t0),
                       [.exit(.leadershipLost(reason: "/run/bot.lock was deleted"))])
        XCTAssertEqual(machine.role, .stopping)
        XCTAssertFalse(machine.mayAct, "nothing is sent once the leadership is lost")
        XCTAssertFalse(machine.isServing)
        XCTAssertNil(machine.token)
        XCTAssertEqual(machine.handle(.lost(reason: "again"), now: t0), [], "reported once")
        XCTAssertEqual(machine.handle(.stopRequested(signal: "SIGTERM"), now: t0), [], "the exit is already decided")
        XCTAssertEqual(machine.handle(.registering, now: t0), [], "no queue once lost")
    }

    /// The etcd election's news: elected with the leader key's create revision as the fencing
    /// token, then the fence deadline passing without a renewal.
    func testAFencingTokenAndAPassedFenceDeadline() {
        var machine = leader(token: 4_211, queue: "q9")
        XCTAssertEqual(machine.token, 4_211)
        let actions = machine.handle(.fenceDeadlinePassed, now: t0)
        guard case .exit(.leadershipLost(let reason)) = actions.first, actions.count == 1 else {
            return XCTFail("\(actions)")
        }
        XCTAssertTrue(reason.contains("fence deadline"), reason)
        XCTAssertFalse(machine.mayAct)

        var stopping = leader()
        _ = stopping.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        XCTAssertEqual(stopping.handle(.fenceDeadlinePassed, now: t0).count, 1)
        XCTAssertFalse(stopping.mayAct, "a fenced leader does not even finish its replies")
    }

    func testALeaderStopsStepByStepAndDeletesItsQueue() {
        var machine = leader()
        XCTAssertEqual(machine.handle(.stopRequested(signal: "SIGTERM"), now: t0),
                       [.announceStopping, .stopTakingEvents(signal: "SIGTERM"), .drainInFlight(until: t0 + .seconds(13))])
        XCTAssertEqual(machine.role, .stopping)
        XCTAssertFalse(machine.isServing, "no new events, no new queue")
        XCTAssertTrue(machine.mayAct, "the replies in flight are finished")
        XCTAssertEqual(machine.token, 7)
        XCTAssertEqual(machine.queue, .registered(id: "q1"), "the queue moved into the shutdown with the stop")
        XCTAssertEqual(machine.handle(.registering, now: t0), [], "no registration once stopping")
        XCTAssertEqual(machine.handle(.editsFlushed, now: t0), [], "out of order")
        XCTAssertEqual(machine.handle(.queueDeleted, now: t0), [], "out of order")
        XCTAssertEqual(machine.handle(.tick, now: t0 + .seconds(1)), [])

        XCTAssertEqual(machine.handle(.inFlightDrained(complete: false), now: t0 + .seconds(13)), [.flushEdits(until: t0 + .seconds(16))])
        XCTAssertEqual(machine.handle(.inFlightDrained(complete: true), now: t0 + .seconds(13)), [], "reported twice")
        XCTAssertEqual(machine.handle(.editsFlushed, now: t0 + .seconds(2)),
                       [.deleteQueue(id: "q1", timeout: .milliseconds(15_500))])
        XCTAssertEqual(machine.queue, .none, "handed to the DELETE in the same step")
        XCTAssertEqual(machine.handle(.editsFlushed, now: t0 + .seconds(2)), [], "reported twice")
        XCTAssertEqual(machine.handle(.queueDeleted, now: t0 + .seconds(3)),
                       [.release(leader: true), .exit(.stopped(signal: "SIGTERM", role: .leader))])
        XCTAssertEqual(machine.phase, .stopped)
        XCTAssertFalse(machine.mayAct)
    }

    func testALateDeleteStillGetsItsMinimumTimeAndNoQueueSkipsTheStep() {
        var late = leader()
        _ = late.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        _ = late.handle(.inFlightDrained(complete: false), now: t0 + .seconds(13))
        XCTAssertEqual(late.handle(.editsFlushed, now: t0 + .seconds(20)), [.deleteQueue(id: "q1", timeout: .milliseconds(500))])

        var noQueue = leader(queue: nil)
        _ = noQueue.handle(.stopRequested(signal: "SIGINT"), now: t0)
        _ = noQueue.handle(.inFlightDrained(complete: true), now: t0)
        XCTAssertEqual(noQueue.handle(.editsFlushed, now: t0), [.release(leader: true), .exit(.stopped(signal: "SIGINT", role: .leader))])

        var lostQueue = leader()
        _ = lostQueue.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        XCTAssertEqual(lostQueue.handle(.queueLost, now: t0), [], "Zulip dropped it meanwhile: nothing to delete")
        _ = lostQueue.handle(.inFlightDrained(complete: true), now: t0)
        XCTAssertEqual(lostQueue.handle(.editsFlushed, now: t0), [.release(leader: true), .exit(.stopped(signal: "SIGTERM", role: .leader))])
    }

    func testASecondSignalOrALostLeadershipEndsTheShutdownAtOnce() {
        var twice = leader()
        _ = twice.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        XCTAssertEqual(twice.handle(.stopRequested(signal: "SIGINT"), now: t0 + .seconds(1)), [.exit(.stoppedNow(signal: "SIGINT"))])
        XCTAssertEqual(twice.phase, .stopped)
        XCTAssertEqual(twice.handle(.inFlightDrained(complete: true), now: t0 + .seconds(2)), [])

        var lost = leader()
        _ = lost.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        XCTAssertEqual(lost.handle(.lost(reason: "replaced"), now: t0), [.exit(.leadershipLost(reason: "replaced"))])
        XCTAssertEqual(lost.handle(.queueDeleted, now: t0), [])
    }

    /// The leak of issue 10: a registration in flight when SIGTERM arrives, answered while the
    /// replies are drained. Its queue is neither polled nor forgotten: the queue step deletes it.
    func testARegistrationEndingDuringTheShutdownIsDeleted() {
        var machine = leader(queue: nil)
        XCTAssertEqual(machine.handle(.registering, now: t0), [.register])
        _ = machine.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        XCTAssertEqual(machine.queue, .registering)
        XCTAssertEqual(machine.handle(.registered(queueID: "late"), now: t0 + .milliseconds(10)), [], "not polled")
        XCTAssertEqual(machine.queue, .registered(id: "late"))
        _ = machine.handle(.inFlightDrained(complete: true), now: t0 + .seconds(1))
        XCTAssertEqual(machine.handle(.editsFlushed, now: t0 + .seconds(1)), [.deleteQueue(id: "late", timeout: .milliseconds(16_500))])
    }

    /// Still in flight at the queue step: waited for until a second before the deadline.
    func testARegistrationStillInFlightAtTheQueueStepIsAwaited() {
        var machine = leader(queue: nil)
        _ = machine.handle(.registering, now: t0)
        _ = machine.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        _ = machine.handle(.inFlightDrained(complete: true), now: t0)
        XCTAssertEqual(machine.handle(.editsFlushed, now: t0), [.awaitRegistration(until: t0 + .seconds(17))])
        XCTAssertEqual(machine.handle(.tick, now: t0 + .seconds(3)), [], "still in flight, before the limit")
        XCTAssertEqual(machine.handle(.registered(queueID: "q7"), now: t0 + .seconds(4)), [])
        XCTAssertEqual(machine.handle(.tick, now: t0 + .seconds(4)), [.deleteQueue(id: "q7", timeout: .milliseconds(13_500))])
        XCTAssertEqual(machine.handle(.queueDeleted, now: t0 + .seconds(5)),
                       [.release(leader: true), .exit(.stopped(signal: "SIGTERM", role: .leader))])

        var failed = leader(queue: nil)
        _ = failed.handle(.registering, now: t0)
        _ = failed.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        _ = failed.handle(.inFlightDrained(complete: true), now: t0)
        _ = failed.handle(.editsFlushed, now: t0)
        XCTAssertEqual(failed.handle(.registrationFailed, now: t0 + .seconds(2)), [])
        XCTAssertEqual(failed.handle(.tick, now: t0 + .seconds(2)), [.release(leader: true), .exit(.stopped(signal: "SIGTERM", role: .leader))])

        var slow = leader(queue: nil)
        _ = slow.handle(.registering, now: t0)
        _ = slow.handle(.stopRequested(signal: "SIGTERM"), now: t0)
        _ = slow.handle(.inFlightDrained(complete: true), now: t0)
        _ = slow.handle(.editsFlushed, now: t0)
        XCTAssertEqual(slow.handle(.tick, now: t0 + .seconds(17)),
                       [.abandonRegistration, .release(leader: true), .exit(.stopped(signal: "SIGTERM", role: .leader))])
        XCTAssertEqual(slow.handle(.registered(queueID: "too-late"), now: t0 + .seconds(18)), [], "the exit is decided")
    }

    func testTheBudgetIsConfigurable() {
        var machine = Leadership(configuration: .init(shutdownBudget: .seconds(8), afterDrain: .seconds(3), afterEdits: .seconds(1)))
        _ = machine.handle(.elected(token: 1), now: t0)
        XCTAssertEqual(machine.handle(.stopRequested(signal: "SIGTERM"), now: t0),
                       [.announceStopping, .stopTakingEvents(signal: "SIGTERM"), .drainInFlight(until: t0 + .seconds(5))])
        XCTAssertEqual(machine.handle(.inFlightDrained(complete: true), now: t0), [.flushEdits(until: t0 + .seconds(7))])
    }
}
