import Foundation
import XCTest
@testable import Platform

/// The one copy of each small system helper: `Duration` conversions, the monotonic clock,
/// sleeps and named threads.
final class TimeAndThreadTests: XCTestCase {
    func testDurationConversions() {
        XCTAssertEqual(Duration.milliseconds(1500).inSeconds, 1.5)
        XCTAssertEqual(Duration.milliseconds(1500).inMilliseconds, 1500)
        XCTAssertEqual(Duration.microseconds(1999).inMilliseconds, 1, "truncated, not rounded")
        XCTAssertEqual(Duration.milliseconds(-1500).inMilliseconds, -1500)
        XCTAssertEqual(Duration.seconds(Int64.max / 10).inMilliseconds, Int64.max / 2, "saturates")
        XCTAssertEqual(Duration.milliseconds(2999).wholeSeconds, 2)
        XCTAssertEqual(Duration.nanoseconds(1_500_000_123).nanosecondsClamped, 1_500_000_123)
        XCTAssertEqual(Duration.seconds(-3).nanosecondsClamped, 0)
        XCTAssertEqual(Duration.nanoseconds(-1).nanosecondsClamped, 0)
        XCTAssertEqual(Duration.seconds(Int64.max).nanosecondsClamped, UInt64.max / 2)
        let ts = Duration.milliseconds(2250).timespecClamped
        XCTAssertEqual(ts.tv_sec, 2)
        XCTAssertEqual(ts.tv_nsec, 250_000_000)
    }

    func testMonotonicClockAndSleep() {
        let before = MonotonicClock.nanoseconds()
        Sleep.for(.milliseconds(20))
        let after = MonotonicClock.nanoseconds()
        XCTAssertGreaterThanOrEqual(after - before, 20_000_000, "slept at least as long as asked")
        XCTAssertEqual(MonotonicClock.seconds(), Double(MonotonicClock.nanoseconds()) / 1e9, accuracy: 1)
        Sleep.seconds(-1)
        Sleep.seconds(.nan)
        Sleep.for(.seconds(-5))
    }

    /// Every thread this code starts carries its name (`ps -L`, `top -H`), also the joinable ones.
    func testThreadsAreNamed() throws {
        let ran = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        NamedThread.detach(name: "detached-test") { ran.signal(); release.wait() }
        let joinable = try NamedThread.joinable(name: "a-name-longer-than-15") { ran.signal(); release.wait() }
        XCTAssertEqual(ran.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(ran.wait(timeout: .now() + 5), .success)
        let names = Self.threadNames()
        release.signal()
        release.signal()
        pthread_join(joinable, nil)
        XCTAssertTrue(names.contains("detached-test"), "\(names)")
        XCTAssertTrue(names.contains("a-name-longer-t"), "Linux keeps 15 bytes: \(names)")
    }

    private static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .newlines) }
    }
}
