import Foundation
import Synchronization
import TestSupport
import XCTest
@testable import Platform

/// The one watchdog pinger: pings while the program's health holds, withholds (and says so
/// once) while it does not, and passes the stall limit the health is judged by.
final class WatchdogTests: XCTestCase {
    func testPingsOnlyWhileHealthyAndSaysOnceWhyNot() throws {
        let tmp = TemporaryDirectory(prefix: "watchdog")
        let socket = try NotifySocket(path: tmp.path + "/notify.sock")
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "200000"], pid: getpid())
        let sink = LogSink.memory()
        let problem = Mutex<String?>(nil)
        let limits = Mutex<Set<Duration>>([])
        let watchdog = Watchdog(notifier: notifier, logger: Logger(component: "test", sink: sink)) { limit in
            limits.withLock { _ = $0.insert(limit) }
            return problem.withLock { $0 }
        }
        XCTAssertTrue(watchdog.start())
        XCTAssertFalse(watchdog.start(), "one timer, not two")
        // Pinged every 100 ms (half of WATCHDOG_USEC) while healthy.
        let healthy = socket.collect(until: { _ in false }, timeout: 0.6)
        XCTAssertGreaterThanOrEqual(healthy.filter { $0 == "WATCHDOG=1" }.count, 3, "\(healthy)")

        problem.withLock { $0 = "an event loop has not turned" }
        XCTAssertTrue(TestProcess.waitUntil(timeout: 5) { sink.captured.contains { $0.contains("watchdog_withheld") } })
        _ = socket.collect(until: { _ in false }, timeout: 0.15)  // a ping already on its way
        let withheld = socket.collect(until: { _ in false }, timeout: 0.5)
        XCTAssertEqual(withheld, [], "no ping while unhealthy")
        XCTAssertEqual(sink.captured.filter { $0.contains("watchdog_withheld") }.count, 1, "said once per unhealthy stretch")
        XCTAssertTrue(sink.captured.contains { $0.contains("an event loop has not turned; not pinging the systemd watchdog") })

        problem.withLock { $0 = nil }
        XCTAssertEqual(socket.collect(until: { $0 == "WATCHDOG=1" }, timeout: 5).last, "WATCHDOG=1", "pings again once healthy")
        XCTAssertEqual(limits.withLock { $0 }, [.seconds(3)], "the stall limit: max(3 s, the 0.2 s timeout)")
        XCTAssertEqual(Watchdog.stallLimit(for: .seconds(180)), .seconds(180))
    }

    func testNothingRunsWithoutAWatchdog() {
        let watchdog = Watchdog(notifier: SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x.sock"]), logger: nil) { _ in nil }
        XCTAssertFalse(watchdog.start(), "no WATCHDOG_USEC: no timer")
    }
}
