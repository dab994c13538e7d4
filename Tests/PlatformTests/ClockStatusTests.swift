import CSystem
import XCTest
@testable import Platform

final class ClockStatusTests: XCTestCase {
    func testSynchronizedClock() {
        let status = ClockStatus.interpret(
            returnValue: TIME_OK, status: 0x2001 /* STA_PLL | STA_NANO */,
            maxErrorMicroseconds: 12_500, estimatedErrorMicroseconds: 250)
        XCTAssertEqual(status, ClockStatus(
            synchronized: true, maxErrorSeconds: 0.0125, estimatedErrorSeconds: 0.00025, state: "ok"))
    }

    func testTimeErrorIsUnsynchronized() {
        let status = ClockStatus.interpret(
            returnValue: TIME_ERROR, status: 0, maxErrorMicroseconds: 16_000_000,
            estimatedErrorMicroseconds: 16_000_000)
        XCTAssertFalse(status.synchronized)
        XCTAssertEqual(status.state, "error")
        XCTAssertEqual(status.maxErrorSeconds, 16)
    }

    func testUnsyncFlagWinsOverOkReturn() {
        let status = ClockStatus.interpret(
            returnValue: TIME_OK, status: STA_UNSYNC, maxErrorMicroseconds: 1, estimatedErrorMicroseconds: 1)
        XCTAssertFalse(status.synchronized)
        XCTAssertEqual(status.state, "ok")
    }

    func testLeapStatesAndUnknownValues() {
        func state(_ value: Int32) -> String {
            ClockStatus.interpret(returnValue: value, status: 0, maxErrorMicroseconds: 0, estimatedErrorMicroseconds: 0).state
        }
        XCTAssertEqual([TIME_INS, TIME_DEL, TIME_OOP, TIME_WAIT].map(state), ["insert", "delete", "oop", "wait"])
        XCTAssertEqual(state(42), "unknown(42)")
        XCTAssertTrue(ClockStatus.interpret(
            returnValue: TIME_INS, status: 0, maxErrorMicroseconds: 0, estimatedErrorMicroseconds: 0).synchronized)
    }

    /// The real kernel reading: sandboxes report an unsynchronized clock, so only its shape
    /// is checked, never synchronization itself.
    func testReadFromKernelIsWellFormed() {
        let status = ClockStatus.read()
        XCTAssertTrue(["ok", "insert", "delete", "oop", "wait", "error", "unavailable"].contains(status.state), status.state)
        XCTAssertGreaterThanOrEqual(status.maxErrorSeconds, 0)
        XCTAssertGreaterThanOrEqual(status.estimatedErrorSeconds, 0)
        if status.state == "error" { XCTAssertFalse(status.synchronized) }
    }
}
