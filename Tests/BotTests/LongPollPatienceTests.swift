import XCTest
@testable import Bot

/// The stuck-poll limit: from the server's long-poll timeout and the heartbeat pace seen.
final class LongPollPatienceTests: XCTestCase {
    func testBeforeAHeartbeatTheOldFixedTimeoutHolds() {
        var patience = LongPollPatience()
        XCTAssertEqual(patience.limit, .seconds(100), "max(90, 90) + 10")
        patience.answered(after: .milliseconds(30), heartbeat: false)
        XCTAssertEqual(patience.limit, .seconds(100), "an answer with events says nothing of the heartbeat pace")
        patience.registered(longpollTimeoutSeconds: 120)
        XCTAssertEqual(patience.limit, .seconds(130), "a server that says more is believed")
        patience.registered(longpollTimeoutSeconds: 1)
        XCTAssertEqual(patience.limit, .seconds(100), "never below the old timeout (Zulip's own test setting is 1 s)")
        patience.registered(longpollTimeoutSeconds: nil)
        XCTAssertEqual(patience.ceiling, .seconds(90))
    }

    func testTheRealServersHeartbeatsGiveAtMostSeventySeconds() {
        // Zulip: 45 s + randint(0, 10) per poll.
        for heartbeat in 45...55 {
            var patience = LongPollPatience()
            patience.answered(after: .seconds(heartbeat), heartbeat: true)
            XCTAssertLessThanOrEqual(patience.limit, .seconds(70), "\(heartbeat)")
            XCTAssertGreaterThan(patience.limit, .seconds(55), "\(heartbeat) s seen: a 55 s heartbeat must not look stuck")
        }
        var patience = LongPollPatience()
        patience.answered(after: .seconds(48), heartbeat: true)
        XCTAssertEqual(patience.limit, .seconds(60))
        patience.answered(after: .seconds(45), heartbeat: true)
        XCTAssertEqual(patience.limit, .seconds(60), "the longest counts")
        patience.answered(after: .seconds(55), heartbeat: true)
        XCTAssertEqual(patience.limit, .milliseconds(68_750))
    }

    func testFasterHeartbeatsGiveShorterLimitsWithAFloorForJitter() {
        for (heartbeat, limit) in [(Duration.seconds(1), Duration.seconds(6)), (.seconds(2), .seconds(7)), (.seconds(10), .seconds(15)),
                                   (.seconds(20), .seconds(25)), (.seconds(30), .milliseconds(37_500))] {
            var patience = LongPollPatience()
            patience.answered(after: heartbeat, heartbeat: true)
            XCTAssertEqual(patience.limit, limit, "\(heartbeat)")
        }
        var patience = LongPollPatience()
        patience.answered(after: .seconds(3), heartbeat: false)
        patience.answered(after: .seconds(1), heartbeat: true)
        XCTAssertEqual(patience.limit, .seconds(8), "the longest answer, whatever it held")
    }

    func testTheLimitNeverExceedsTheCap() {
        var patience = LongPollPatience()
        patience.answered(after: .seconds(95), heartbeat: true)
        XCTAssertEqual(patience.limit, .seconds(100))
        patience.registered(longpollTimeoutSeconds: 150)
        XCTAssertEqual(patience.limit, .milliseconds(118_750))
    }
}
