import XCTest
@testable import Etcd

/// Every transition of the election state machine, with made-up instants (no real time).
final class LeadershipMachineTests: XCTestCase {
    private typealias Machine = LeadershipMachine
    private let t0 = ContinuousClock.now
    private let lease = EtcdLease(id: 7, ttlSeconds: 5)
    private let third = Duration.seconds(5) / 3

    private func at(_ offset: Duration) -> ContinuousClock.Instant { t0 + offset }

    private func machine(margin: Duration = .seconds(1)) -> Machine {
        Machine(configuration: .init(leaseSeconds: 5, fenceMargin: margin, retryDelay: .milliseconds(250)))
    }

    /// Started, lease 7 granted at t0 (sent at t0), campaign sent.
    private func campaigning() -> Machine {
        var m = machine()
        XCTAssertEqual(m.handle(.start, now: t0), [.grantLease(ttlSeconds: 5)])
        XCTAssertEqual(m.handle(.leaseGranted(lease, sentAt: t0), now: t0), [.campaign(leaseID: 7)])
        return m
    }

    private func leader(token: Int64 = 42) -> Machine {
        var m = campaigning()
        XCTAssertEqual(m.handle(.campaigned(holderLease: 7, token: token, revision: token), now: t0),
                       [.roleChanged(.leader(token: token))])
        return m
    }

    private func standby() -> Machine {
        var m = campaigning()
        XCTAssertEqual(m.handle(.campaigned(holderLease: 9, token: 40, revision: 42), now: t0),
                       [.roleChanged(.standby), .watch(fromRevision: 43)])
        return m
    }

    // MARK: Getting a lease and campaigning

    func testStartGrantsALeaseOnce() {
        var m = machine()
        XCTAssertEqual(m.role(at: t0), .candidate)
        XCTAssertEqual(m.handle(.start, now: t0), [.grantLease(ttlSeconds: 5)])
        XCTAssertEqual(m.handle(.start, now: t0), [], "a second start changes nothing")
        XCTAssertEqual(m.handle(.tick, now: at(.seconds(3))), [], "no second grant while one is outstanding")
    }

    func testGrantedLeaseCampaignsAtOnce() {
        let m = campaigning()
        XCTAssertEqual(m.leaseID, 7)
        XCTAssertEqual(m.role(at: t0), .candidate)
    }

    func testWinningTheCampaignMakesLeaderWithTheKeysCreateRevisionAsToken() {
        let m = leader(token: 42)
        XCTAssertEqual(m.role(at: at(.seconds(1))), .leader(token: 42))
        XCTAssertTrue(m.mayAct(at: at(.seconds(1))))
        XCTAssertEqual(m.fenceDeadline, at(.seconds(4)), "grant's send time + TTL 5 s - margin 1 s")
    }

    func testACampaignThatFindsItsOwnLeaseWon() {
        // The first attempt created the key but its answer was lost; the repeat finds the key held by our lease.
        var m = campaigning()
        XCTAssertEqual(m.handle(.campaigned(holderLease: 7, token: 30, revision: 31), now: t0), [.roleChanged(.leader(token: 30))])
    }

    func testLosingTheCampaignStandsByWatchingFromTheNextRevision() {
        let m = standby()
        XCTAssertEqual(m.role(at: t0), .standby)
        XCTAssertFalse(m.mayAct(at: t0))
        XCTAssertNil(m.fenceDeadline)
    }

    func testGrantedTTLReplacesTheRequestedOne() {
        var m = machine()
        _ = m.handle(.start, now: t0)
        _ = m.handle(.leaseGranted(EtcdLease(id: 7, ttlSeconds: 10), sentAt: t0), now: t0)
        _ = m.handle(.campaigned(holderLease: 7, token: 5, revision: 5), now: t0)
        XCTAssertEqual(m.fenceDeadline, at(.seconds(9)))
    }

    // MARK: Keepalive and the fence

    func testKeepAliveIsDueEveryThirdOfTheLease() {
        var m = leader()
        XCTAssertEqual(m.nextWakeUp, at(third))
        XCTAssertEqual(m.handle(.tick, now: at(third - .milliseconds(1))), [])
        XCTAssertEqual(m.handle(.tick, now: at(third)), [.keepAlive(leaseID: 7)])
        XCTAssertEqual(m.handle(.tick, now: at(third + .milliseconds(500))), [], "one keepalive outstanding at a time")
        XCTAssertEqual(m.nextWakeUp, at(.seconds(4)), "while waiting, only the fence deadline wakes the machine")
        XCTAssertEqual(m.handle(.keepAliveSucceeded(ttlSeconds: 5, sentAt: at(third)), now: at(third + .milliseconds(600))), [])
        XCTAssertEqual(m.nextWakeUp, at(third * 2))
        XCTAssertEqual(m.handle(.tick, now: at(third * 2)), [.keepAlive(leaseID: 7)])
    }

    func testTheFenceCountsFromTheKeepalivesSendTimeNotItsAnswer() {
        var m = leader()
        _ = m.handle(.tick, now: at(third))
        // The answer took 2 s to come back: etcd may have renewed right after the send.
        _ = m.handle(.keepAliveSucceeded(ttlSeconds: 5, sentAt: at(third)), now: at(third + .seconds(2)))
        XCTAssertEqual(m.fenceDeadline, at(third + .seconds(4)))
    }

    func testALeaderWithoutRenewalStopsActingAtTheFenceDeadline() {
        var m = leader()
        XCTAssertEqual(m.handle(.tick, now: at(third)), [.keepAlive(leaseID: 7)])
        XCTAssertEqual(m.handle(.requestFailed, now: at(third + .milliseconds(100))), [])
        XCTAssertEqual(m.nextWakeUp, at(third + .milliseconds(350)), "retry after the retry delay")
        XCTAssertEqual(m.handle(.tick, now: at(third + .milliseconds(350))), [.keepAlive(leaseID: 7)])
        XCTAssertEqual(m.handle(.requestFailed, now: at(.milliseconds(3900))), [])
        // The clock alone decides, tick or no tick.
        XCTAssertTrue(m.mayAct(at: at(.milliseconds(3999))))
        XCTAssertFalse(m.mayAct(at: at(.seconds(4))))
        XCTAssertEqual(m.role(at: at(.seconds(4))), .fenced(token: 42))
        XCTAssertEqual(m.handle(.tick, now: at(.seconds(4))), [.roleChanged(.fenced(token: 42))],
                       "the retry is not due yet (3.9 s + 250 ms), the role change is")
        XCTAssertEqual(m.handle(.tick, now: at(.milliseconds(4150))), [.keepAlive(leaseID: 7)], "a fenced leader keeps trying")
    }

    func testAFencedLeaderWhoseLateKeepaliveGetsThroughLeadsAgain() {
        var m = leader()
        _ = m.handle(.tick, now: at(third))
        _ = m.handle(.requestFailed, now: at(.seconds(2)))
        XCTAssertEqual(m.handle(.tick, now: at(.seconds(4))), [.roleChanged(.fenced(token: 42)), .keepAlive(leaseID: 7)])
        // etcd received this one before the lease expired (it answered with a TTL): the key is still ours.
        XCTAssertEqual(m.handle(.keepAliveSucceeded(ttlSeconds: 5, sentAt: at(.seconds(4))), now: at(.milliseconds(4200))),
                       [.roleChanged(.leader(token: 42))])
        XCTAssertEqual(m.fenceDeadline, at(.seconds(8)))
    }

    func testALostLeaseEndsLeadershipAndStartsOver() {
        var m = leader()
        _ = m.handle(.tick, now: at(third))
        XCTAssertEqual(m.handle(.leaseLost, now: at(.seconds(2))), [.roleChanged(.candidate), .grantLease(ttlSeconds: 5)])
        XCTAssertNil(m.leaseID)
        XCTAssertFalse(m.mayAct(at: at(.seconds(2))))
    }

    func testAStandbyKeepsItsLeaseAliveForAQuickCampaign() {
        var m = standby()
        XCTAssertEqual(m.handle(.tick, now: at(third)), [.keepAlive(leaseID: 7)])
        XCTAssertEqual(m.handle(.keepAliveSucceeded(ttlSeconds: 5, sentAt: at(third)), now: at(third)), [])
        XCTAssertEqual(m.role(at: at(.seconds(10))), .standby, "a standby has no fence")
    }

    func testAStandbyThatLosesItsLeaseStopsWatchingAndStartsOver() {
        var m = standby()
        _ = m.handle(.tick, now: at(third))
        XCTAssertEqual(m.handle(.leaseLost, now: at(.seconds(2))), [.roleChanged(.candidate), .cancelWatch, .grantLease(ttlSeconds: 5)])
    }

    // MARK: Standby

    func testTheLeaderKeysDeletionMakesTheStandbyCampaign() {
        var m = standby()
        XCTAssertEqual(m.handle(.leaderKeyDeleted, now: at(.seconds(1))), [.roleChanged(.candidate), .campaign(leaseID: 7)])
    }

    func testAFailedWatchMakesTheStandbyCampaignToLearnTheState() {
        var m = standby()
        XCTAssertEqual(m.handle(.watchFailed, now: at(.seconds(1))), [.roleChanged(.candidate), .campaign(leaseID: 7)])
    }

    func testWatchNewsOutsideStandbyIsIgnored() {
        var m = leader()
        XCTAssertEqual(m.handle(.leaderKeyDeleted, now: at(.seconds(1))), [])
        XCTAssertEqual(m.handle(.watchFailed, now: at(.seconds(1))), [])
        XCTAssertEqual(m.role(at: at(.seconds(1))), .leader(token: 42))
    }

    func testKeepaliveComesBeforeACampaignWhenBothAreDue() {
        var m = standby()
        XCTAssertEqual(m.handle(.leaderKeyDeleted, now: at(third)), [.roleChanged(.candidate), .keepAlive(leaseID: 7)])
        XCTAssertEqual(m.handle(.keepAliveSucceeded(ttlSeconds: 5, sentAt: at(third)), now: at(third)), [.campaign(leaseID: 7)])
    }

    // MARK: Failures and retries

    func testAFailedGrantIsRetriedAfterTheDelay() {
        var m = machine()
        _ = m.handle(.start, now: t0)
        XCTAssertEqual(m.handle(.requestFailed, now: t0), [])
        XCTAssertEqual(m.nextWakeUp, at(.milliseconds(250)))
        XCTAssertEqual(m.handle(.tick, now: at(.milliseconds(249))), [])
        XCTAssertEqual(m.handle(.tick, now: at(.milliseconds(250))), [.grantLease(ttlSeconds: 5)])
    }

    func testAFailedCampaignIsRetriedAfterTheDelay() {
        var m = campaigning()
        XCTAssertEqual(m.handle(.requestFailed, now: t0), [])
        XCTAssertEqual(m.handle(.tick, now: at(.milliseconds(100))), [])
        XCTAssertEqual(m.handle(.tick, now: at(.milliseconds(250))), [.campaign(leaseID: 7)])
    }

    func testACampaignRefusedForAnExpiredLeaseGrantsANewOne() {
        var m = campaigning()
        XCTAssertEqual(m.handle(.leaseLost, now: at(.seconds(6))), [.grantLease(ttlSeconds: 5)])
    }

    func testAnswersNobodyWaitsForAreIgnored() {
        var m = leader()
        // (Before the first keepalive is due at 1.67 s.)
        XCTAssertEqual(m.handle(.keepAliveSucceeded(ttlSeconds: 5, sentAt: at(.seconds(1))), now: at(.seconds(1))), [])
        XCTAssertEqual(m.fenceDeadline, at(.seconds(4)), "an unrequested renewal does not move the fence")
        XCTAssertEqual(m.handle(.campaigned(holderLease: 9, token: 50, revision: 50), now: at(.seconds(1))), [])
        XCTAssertEqual(m.handle(.leaseGranted(EtcdLease(id: 8, ttlSeconds: 5), sentAt: t0), now: at(.seconds(1))), [])
        XCTAssertEqual(m.handle(.requestFailed, now: at(.seconds(1))), [])
        XCTAssertEqual(m.role(at: at(.seconds(1))), .leader(token: 42))
        XCTAssertEqual(m.leaseID, 7)
    }

    // MARK: Stop

    func testStoppingALeaderStopsActingFirstThenRevokes() {
        var m = leader()
        XCTAssertEqual(m.handle(.stop, now: at(.seconds(1))), [.roleChanged(.stopped), .revoke(leaseID: 7)])
        XCTAssertFalse(m.mayAct(at: at(.seconds(1))))
        XCTAssertEqual(m.handle(.stop, now: at(.seconds(1))), [])
        XCTAssertEqual(m.handle(.tick, now: at(.seconds(30))), [], "nothing happens after a stop")
        XCTAssertEqual(m.handle(.leaseLost, now: at(.seconds(30))), [])
        XCTAssertNil(m.nextWakeUp)
    }

    func testStoppingAStandbyCancelsTheWatchAndRevokes() {
        var m = standby()
        XCTAssertEqual(m.handle(.stop, now: at(.seconds(1))), [.roleChanged(.stopped), .cancelWatch, .revoke(leaseID: 7)])
    }

    func testStoppingBeforeALeaseJustStops() {
        var m = machine()
        _ = m.handle(.start, now: t0)
        XCTAssertEqual(m.handle(.stop, now: t0), [.roleChanged(.stopped)])
        XCTAssertEqual(m.handle(.leaseGranted(lease, sentAt: t0), now: t0), [], "a grant answered after the stop is not used")
    }

    // MARK: Configuration

    func testConfigurationRefusesAFenceThatWouldPassBeforeTheFirstRenewal() {
        XCTAssertNoThrow(try Machine.Configuration().validate())
        XCTAssertThrowsError(try Machine.Configuration(leaseSeconds: 1).validate())
        XCTAssertThrowsError(try Machine.Configuration(leaseSeconds: 5, fenceMargin: .zero).validate())
        XCTAssertThrowsError(try Machine.Configuration(leaseSeconds: 3, fenceMargin: .seconds(2)).validate())
        XCTAssertThrowsError(try Machine.Configuration(leaseSeconds: 3, retryDelay: .seconds(1)).validate())
        do {
            try Machine.Configuration(leaseSeconds: 3, fenceMargin: .seconds(2)).validate()
        } catch {
            XCTAssertEqual(error, .invalidRequest)
            XCTAssertTrue(error.message.contains("two thirds"), error.message)
        }
    }
}
