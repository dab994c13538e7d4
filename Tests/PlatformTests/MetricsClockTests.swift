import XCTest
@testable import Platform

final class MetricsClockTests: XCTestCase {
    func testClockGaugesFollowInjectedStatus() {
        let registry = MetricsRegistry()
        ClockMetrics.register(in: registry) {
            ClockStatus(synchronized: false, maxErrorSeconds: 16, estimatedErrorSeconds: 0.5, state: "error")
        }
        XCTAssertEqual(registry.render(), """
            # HELP clock_estimated_error_seconds Kernel estimated clock error in seconds (adjtimex esterror).
            # TYPE clock_estimated_error_seconds gauge
            clock_estimated_error_seconds 0.5
            # HELP clock_max_error_seconds Kernel maximum clock error bound in seconds (adjtimex maxerror).
            # TYPE clock_max_error_seconds gauge
            clock_max_error_seconds 16
            # HELP clock_synchronized 1 when the kernel reports the clock synchronized (adjtimex), else 0.
            # TYPE clock_synchronized gauge
            clock_synchronized 0

            """)
        ClockMetrics.register(in: registry) {
            ClockStatus(synchronized: true, maxErrorSeconds: 0.01, estimatedErrorSeconds: 0.001, state: "ok")
        }
        XCTAssertTrue(registry.render().contains("\nclock_synchronized 1\n"))
    }
}
